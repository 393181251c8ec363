"""The working calendar: days off with the list each comes from, and Ramadan dates by year (admin confirms)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from hub.api.auth import Principal, current, require
from hub.api.errors import ApiError
from hub.api.schemas import RamadanIn
from hub.master import RamadanPeriod
from hub.tpp.calendar import days_off
from hub.tpp.ramadan import check_confirmation

router = APIRouter()


def _today(request: Request) -> date:
    return request.app.state.clock().astimezone(request.app.state.attendance.tz).date()


@router.get("/calendar", summary="Days off of a year and the list each comes from (national, cuti bersama, city)")
def calendar(request: Request, year: Annotated[int, Query(ge=1900, le=2099)],
             _: Principal = Depends(current)) -> list[dict]:
    att = request.app.state.attendance
    offs = days_off(att.rules(), {year}, request.app.state.master.holidays())
    return [{"tanggal": d.isoformat(), "daftar": o.source, "nama": o.name} for d, o in sorted(offs.items())]


@router.get("/ramadan", summary="Ramadan dates by Hijri year, and a warning while the coming one is not confirmed")
def ramadan(request: Request, _: Principal = Depends(current)) -> dict:
    att = request.app.state.attendance
    status = att.ramadan(_today(request))
    confirmed_in_hub = {r.hijri_year for r in request.app.state.master.ramadan()}
    e = status.expected
    return {
        "jadwal": [{"tahun_hijriah": r.hijri_year, "mulai": r.from_.isoformat(), "selesai": r.to.isoformat(),
                    "sumber": r.source, "dari": "master data" if r.hijri_year in confirmed_in_hub else "kebijakan"}
                   for r in att.rules().ramadan],
        "berikutnya": {"tahun_hijriah": e.hijri_year, "perkiraan_mulai": e.start.isoformat(),
                       "perkiraan_selesai": e.end.isoformat(), "dikonfirmasi": status.confirmed is not None},
        "peringatan": status.warning,
    }


@router.put("/ramadan/{hijri_year}", summary="Confirm the Ramadan dates of a Hijri year as the government set them "
                                             "(admin, audited)")
def confirm_ramadan(hijri_year: Annotated[int, Path(ge=1343, le=1499)], body: RamadanIn, request: Request,
                    p: Principal = Depends(require("admin"))) -> dict:
    try:
        check_confirmation(hijri_year, body.start, body.end)
    except ValueError as exc:
        field = str(exc).split(":", 1)[0]
        raise ApiError(422, "invalid", str(exc), field if field in ("start", "end", "hijri_year") else None) from None
    master = request.app.state.master
    changes = {"start": body.start, "end": body.end, "source": body.source}
    if master.update(p.username, RamadanPeriod, hijri_year, changes) is None:
        master.add(p.username, RamadanPeriod(hijri_year=hijri_year, **changes))
    return {"tahun_hijriah": hijri_year, "mulai": body.start.isoformat(), "selesai": body.end.isoformat(),
            "sumber": body.source}
