"""Today's board, attendance days, TPP with its explanation, and exports (Bahasa Indonesia headers).

"Now" is the app's clock (`app.state.clock`): a month still under way is provisional ("sementara") in every
answer and export, and days that have not happened are BELUM, never TK.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from hub.api.auth import Principal, current, require, scope_employee, scope_opd
from hub.api.errors import ApiError
from hub.api.schemas import IsoDate
from hub.exports import to_csv, to_xlsx
from hub.tpp.calendar import DayOff
from hub.tpp.compute import TppResult
from hub.tpp.resolve import MONTH_PATTERN, describe

router = APIRouter()
MONTH = Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")]


def _att(request: Request):
    return request.app.state.attendance


def _now(request: Request) -> datetime:
    return request.app.state.clock()


def _employee_opd(request: Request, nip: str) -> str:
    emp = request.app.state.master.employee(nip)
    if emp is None:
        raise ApiError(404, "not_found", f"no employee with NIP {nip}", "nip")
    return emp.opd_code


def _scope(request: Request, p: Principal, opd: str | None, nip: str | None) -> tuple[str | None, str | None]:
    if nip:
        scope_employee(p, nip, _employee_opd(request, nip))
        return None, nip
    if p.role == "employee":
        return None, p.nip
    return scope_opd(p, opd), None


def _tpp_json(r: TppResult, with_days: bool = True) -> dict:
    out = {"nip": r.nip, "bulan": r.month, "tpp_dasar": r.base, "capaian_kinerja": r.productivity,
           "jumlah_potongan_persen": round(r.deduction_percent, 4), "potongan_diterapkan_persen": r.applied_percent,
           "tidak_dibayar": r.zeroed, "alasan": r.zero_reason, "tpp_diterima": r.final_amount,
           "potongan": [{"tanggal": d.date.isoformat(), "kode": d.code, "persen": d.percent, "aturan": d.rule}
                        for d in r.deductions],
           "penjelasan": r.explanation(), "kebijakan": r.policy,
           "sementara": r.provisional, "dihitung_pada": r.as_of.isoformat() if r.as_of else None,
           "hari_belum_terjadi": r.days_not_yet,
           "libur": [{"tanggal": o.date.isoformat(), "daftar": o.source, "nama": o.name} for o in r.days_off]}
    if with_days:
        out["hari"] = {d.date.isoformat(): d.code for d in r.days}
    return out


@router.get("/board/today", summary="Today's check-ins for an OPD (live board)")
def board(request: Request, opd: str | None = None, p: Principal = Depends(current)) -> list[dict]:
    if p.role == "employee":
        raise ApiError(403, "forbidden", "the board is for OPD heads and the payroll office")
    return _att(request).today(scope_opd(p, opd), _now(request))


@router.get("/attendance", summary="Resolved working days for an employee or an OPD over a date range")
def attendance(request: Request, start: IsoDate, end: IsoDate, opd: str | None = None, nip: str | None = None,
               p: Principal = Depends(current)) -> list[dict]:
    if not (1900 <= start.year <= 2099 and 1900 <= end.year <= 2099):
        raise ApiError(422, "invalid", "start: dates must be between 1900 and 2099", "start")
    if end < start or (end - start).days > 62:
        raise ApiError(422, "invalid", "end: must be on or after start and at most 62 days later", "end")
    opd, nip = _scope(request, p, opd, nip)
    tz = _att(request).tz
    out = []
    for n, d in _att(request).days(start, end, _now(request), opd, nip):
        if isinstance(d, DayOff):
            out.append({"nip": n, "tanggal": d.date.isoformat(), "kode": "LIBUR", "keterangan": d.explain(),
                        "daftar_libur": d.source, "sementara": False})
            continue
        out.append({"nip": n, "tanggal": d.date.isoformat(), "kode": d.code, "keterangan": describe(d),
                    "sementara": d.provisional,
                    "masuk": d.checkin.at.astimezone(tz).strftime("%H:%M:%S") if d.checkin else None,
                    "pulang": d.checkout.at.astimezone(tz).strftime("%H:%M:%S") if d.checkout else None,
                    "terlambat_menit": d.late_min, "pulang_cepat_menit": d.early_min,
                    "potongan_persen": d.percent, "event_masuk": d.checkin.ref if d.checkin else None,
                    "event_pulang": d.checkout.ref if d.checkout else None,
                    "diabaikan": [{"event": ref, "alasan": why} for ref, why in d.ignored]})
    return out


@router.get("/tpp", summary="TPP of a month for an OPD (or all OPDs), each deduction explained")
def tpp(request: Request, month: MONTH, opd: str | None = None,
        productivity: Annotated[float, Query(ge=0, le=1)] = 1.0, p: Principal = Depends(current)) -> list[dict]:
    opd, nip = _scope(request, p, opd, None)
    results = _att(request).month(month, _now(request), opd, nip,
                                  productivity={e.nip: productivity for e in request.app.state.master.employees(opd)})
    return [_tpp_json(r) for r in results]


@router.get("/tpp/{nip}", summary="TPP of one employee for a month, with the explanation")
def tpp_one(nip: str, request: Request, month: MONTH, productivity: Annotated[float, Query(ge=0, le=1)] = 1.0,
            p: Principal = Depends(current)) -> dict:
    _scope(request, p, None, nip)
    results = _att(request).month(month, _now(request), nip=nip, productivity={nip: productivity})
    return _tpp_json(results[0])


@router.get("/discipline/pp94", summary="PP 94/2021: TK days so far this year per employee and the step reached")
def pp94(request: Request, year: Annotated[int, Query(ge=2000, le=2099)], opd: str | None = None,
         p: Principal = Depends(require("admin", "payroll", "auditor", "opd"))) -> list[dict]:
    now = _now(request)
    if year > now.astimezone(_att(request).tz).year:
        raise ApiError(422, "invalid", "year: in the future", "year")
    return _att(request).pp94(year, scope_opd(p, opd), now)


HEADERS = ["NIP", "Nama", "OPD", "Bulan", "TPP Dasar (Rp)", "Jumlah Potongan (%)", "Potongan Diterapkan (%)",
           "Hari TK", "Tidak Dibayar", "TPP Diterima (Rp)", "Status", "Hari Belum Terjadi"]


def _status(r: TppResult, tz, not_started: bool) -> str:
    """The row's status as the payroll office reads it; a time is in WIT and says so."""
    if not_started:
        return "Bulan belum dimulai"
    if not r.provisional:
        return "Final"
    return f"Sementara per {r.as_of.astimezone(tz):%d-%m-%Y %H:%M} WIT" if r.as_of else "Sementara"


def _rows(request: Request, month: str, opd: str | None) -> list[list]:
    names = {e.nip: (e.name, e.opd_code) for e in request.app.state.master.employees(opd)}
    tz = _att(request).tz
    not_started = month > f"{_now(request).astimezone(tz):%Y-%m}"
    rows = []
    for r in _att(request).month(month, _now(request), opd):
        name, opd_code = names[r.nip]
        if not_started:  # nothing has happened: no deductions and no TPP to pay yet, not even provisional ones
            rows.append([r.nip, name, opd_code, month, r.base, None, None, None, None, None,
                         _status(r, tz, True), r.days_not_yet])
            continue
        rows.append([r.nip, name, opd_code, month, r.base, round(r.deduction_percent, 4), r.applied_percent,
                     r.tk_days, "Ya" if r.zeroed else "Tidak", r.final_amount, _status(r, tz, False), r.days_not_yet])
    return rows


@router.get("/export/tpp.csv", summary="Monthly TPP recap as CSV (payroll office)", response_class=Response)
def export_csv(request: Request, month: MONTH, opd: str | None = None,
               p: Principal = Depends(require("admin", "payroll", "auditor", "opd"))) -> Response:
    data = to_csv(HEADERS, _rows(request, month, scope_opd(p, opd)))
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(request, month)}.csv"'})


@router.get("/export/tpp.xlsx", summary="Monthly TPP recap as XLSX, one sheet per OPD", response_class=Response)
def export_xlsx(request: Request, month: MONTH, opd: str | None = None,
                p: Principal = Depends(require("admin", "payroll", "auditor", "opd"))) -> Response:
    by_opd: dict[str, list[list]] = {}
    for row in _rows(request, month, scope_opd(p, opd)):
        by_opd.setdefault(row[2], []).append(row)
    data = to_xlsx({code: (HEADERS, by_opd.get(code, [])) for code in sorted(by_opd) or ["(kosong)"]})
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(request, month)}.xlsx"'})


def _filename(request: Request, month: str) -> str:
    # A provisional recap must not be mistaken for the month's final one once saved to disk.
    now = _now(request).astimezone(_att(request).tz)
    return f"rekap-tpp-{month}" + ("-sementara" if f"{now:%Y-%m}" <= month else "")
