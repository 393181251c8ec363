"""The web app's views, served from the results kept current as events arrive (hub.results): today's board
of an OPD, its month table, one employee's month, and the OPD's devices with a map of today's field check-ins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from hub.api import views
from hub.api.auth import Principal, bearer, current, scope_employee, scope_opd
from hub.api.errors import ApiError
from hub.device_status import status
from hub.master import DutyOrder, Site
from hub.payroll.punches import punches_by_employee
from hub.results import Entry, LiveResults, View
from hub.tpp.resolve import MONTH_PATTERN

router = APIRouter()
MONTH = Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM (default: this month, WIT)")]


def _results(request: Request) -> LiveResults:
    return request.app.state.results


def opd_in_scope(request: Request, p: Principal, opd: str | None) -> str:
    """The one OPD a view is about: an OPD user's own; readers of everything must name one that exists."""
    if p.role == "employee":
        raise ApiError(403, "forbidden", "employees see only their own records")
    scope = scope_opd(p, opd)
    if not scope:
        raise ApiError(422, "invalid", "opd: choose an OPD", "opd")
    if _results(request).opd_name(scope) is None:
        raise ApiError(404, "not_found", f"no OPD {scope}", "opd")
    return scope


def _opd_name(request: Request, code: str) -> str:
    return _results(request).opd_name(code) or code


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (every browser's does)."""
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return not q or float(q) > 0
            except ValueError:
                return False
    return False


def _answer(request: Request, view: View) -> Response:
    """The kept bytes (gzipped when the client takes it), or 304 when the browser already holds them (its
    cache revalidates every time: the answer depends on the token, so `private`, and on events, so
    `no-cache`). Each encoding has its own ETag; either one matches."""
    gzipped = accepts_gzip(request.headers.get("accept-encoding"))
    etag = view.etag[:-1] + '-gz"' if gzipped else view.etag
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    asked = request.headers.get("if-none-match")
    if asked and any(tag.strip().removeprefix("W/").replace('-gz"', '"') == view.etag for tag in asked.split(",")):
        return Response(status_code=304, headers=headers)
    if gzipped:
        return Response(view.gzipped, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(view.body, media_type="application/json", headers=headers)


async def _view(request: Request, p: Principal, opd: str | None, month: str | None, name: str,
                render: Callable[[Entry, datetime, ZoneInfo, str], bytes], now: datetime | None = None) -> Response:
    """A kept view straight from memory when nothing changed it; otherwise checked and rendered in a thread
    (building an OPD's month from the store takes a while and must not hold the event loop). The view is then
    kept current in the background (hub.results) while it is being asked for."""
    results = _results(request)
    now = now or results.clock()
    tz = request.app.state.attendance.tz
    month = month or now.astimezone(tz).strftime("%Y-%m")
    name = name.format(day=now.astimezone(tz).date())
    if p.role != "employee":
        scope = scope_opd(p, opd)  # refuses another OPD's view here as on the slow path
        if scope and results.known_opd(scope):
            view = results.ready(scope, month, name, now)
            if view is not None:
                return _answer(request, view)

    def slow() -> View:
        code = opd_in_scope(request, p, opd)
        return results.render(code, month, name, lambda e, at: render(e, at, tz, results.name_of(e.opd) or e.opd),
                              now)

    return _answer(request, await run_in_threadpool(slow))


def caller(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    """The API's own token check (`auth.current`), run inline by the async views: the board and the month are
    the most requested pages and a trip to the thread pool would cost more than the check itself."""
    return current(request, creds)


@router.get("/view/today", summary="Today's board of an OPD: counts and every employee's code so far (WIT)")
async def today(request: Request, opd: str | None = None,
                creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Response:
    p = caller(request, creds)
    now = _results(request).clock()
    day = now.astimezone(request.app.state.attendance.tz).date()
    # The day is fixed in the renderer: a board kept fresh in the background stays the board of that day.
    return await _view(request, p, opd, None, "board:{day}",
                       lambda e, at, tz, name: views.board(e, day, at, tz, name), now)


@router.get("/view/month", summary="The month of an OPD: per employee the codes of each day, deductions and TPP")
async def month_table(request: Request, month: MONTH = None, opd: str | None = None,
                      creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Response:
    p = caller(request, creds)
    return await _view(request, p, opd, month, "month", views.month_table)


def _month(request: Request, month: str | None) -> str:
    if month:
        return month
    return request.app.state.results.clock().astimezone(request.app.state.attendance.tz).strftime("%Y-%m")


@router.get("/view/employee/{nip}", summary="One employee's month: days, times, deductions with rules, TPP explained")
def employee_month(nip: str, request: Request, month: MONTH = None, p: Principal = Depends(current)) -> dict:
    emp = request.app.state.master.employee(nip)
    if emp is None:
        raise ApiError(404, "not_found", f"no employee with NIP {nip}", "nip")
    scope_employee(p, nip, emp.opd_code)
    results = _results(request)
    now = results.clock()
    entry = results.entry(emp.opd_code, _month(request, month), now)
    with entry.lock:
        if nip not in entry.rows:
            raise ApiError(404, "not_found", f"no results for NIP {nip}", "nip")
        return views.employee_month(entry, nip, now, request.app.state.attendance.tz,
                                    _opd_name(request, emp.opd_code))


def _ts(at: datetime | None, tz) -> str | None:
    return at.astimezone(tz).strftime("%d-%m-%Y %H:%M") if at else None


@router.get("/view/devices", summary="The OPD's devices (honest online state, alerts) and today's map")
def devices(request: Request, opd: str | None = None, p: Principal = Depends(current)) -> dict:
    code = opd_in_scope(request, p, opd)
    state = request.app.state
    tz = state.attendance.tz
    now = _results(request).clock()
    day = now.astimezone(tz).date()
    start = datetime.combine(day, time.min, tz)
    rows = []
    for d in state.registry.all():
        if d.opd != code:
            continue
        s = status(d, state.store, start, now)
        rows.append({"perangkat": d.device_id, "lokasi": d.site, "dicabut": bool(d.revoked),
                     "status": d.state or "unknown",
                     "online": s.online, "terakhir_terlihat": _ts(s.last_seen, tz),
                     "diam_menit": int(s.silent_for.total_seconds() // 60) if s.silent_for is not None else None,
                     "antrean": d.outbox_depth, "versi_galeri": d.gallery_version, "gps": d.gps_state,
                     "event_terakhir": _ts(s.last_event, tz), "rantai_terputus": s.chain_breaks,
                     "peringatan": list(s.alerts)})
    staff = {e.nip: e.name for e in state.master.employees(code)}
    sites = [{"nama": s.name, "lat": s.lat, "lon": s.lon, "radius_m": s.radius_m}
             for s in state.master.list(Site, opd_code=code)]
    duty = [{"nomor": x.number, "nip": x.nip, "nama": staff[x.nip], "tujuan": x.destination, "lat": x.lat,
             "lon": x.lon, "radius_m": x.radius_m}
            for x in state.master.list(DutyOrder) if x.nip in staff and x.lat is not None and x.start <= day <= x.end]
    items = [i for i in state.store.events_of(set(staff), set(), start, start + timedelta(days=1))
             if i.event.gps is not None and not i.event.gps.fixed_site and i.event.gps.mode >= 2]
    places = state.attendance.places()
    verdict = {p.ref: p for ps in punches_by_employee(items, places, tz).values() for p in ps}
    field = [{"nip": i.event.employee_id, "nama": staff.get(i.event.employee_id or ""), "waktu":
              i.event.captured_at.astimezone(tz).strftime("%H:%M"), "lat": i.event.gps.lat, "lon": i.event.gps.lon,
              "perangkat": i.event.device_id, "dihitung": verdict[i.key].valid if i.key in verdict else False,
              "alasan": verdict[i.key].reason if i.key in verdict else None}
             for i in sorted(items, key=lambda i: i.event.captured_at)]
    return {"opd": {"kode": code, "nama": _opd_name(request, code)}, "tanggal": day.isoformat(),
            "perangkat": rows, "peringatan": sum(len(r["peringatan"]) for r in rows), "lokasi": sites,
            "surat_tugas": duty, "presensi_lapangan": field}


def parse_day(request: Request, value: date | None) -> date:
    if value is None:
        return _results(request).clock().astimezone(request.app.state.attendance.tz).date()
    if not 2000 <= value.year <= 2099:
        raise ApiError(422, "invalid", "date: between 2000 and 2099", "date")
    return value
