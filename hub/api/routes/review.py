"""GET /review: what the hub did not count, with reasons (see hub.review). With start and end: the stored events
of the period that did not count, with the measured liveness cues. Otherwise (the web app's "Perlu ditinjau"):
a day (date, default today) of an OPD from its kept results, with unknown faces and refused messages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Depends, Request

from hub.api.auth import Principal, current, scope_opd
from hub.api.errors import ApiError
from hub.api.routes.app_views import opd_in_scope, parse_day
from hub.api.schemas import IsoDate
from hub.api.views import long_date
from hub.review import day_uncounted, uncounted

router = APIRouter()


@router.get("/review", summary="Events not counted for attendance (liveness failed or inconclusive, outside "
            "the geofence, clock flags, outside the windows), with the reason: a period (start, end) or an OPD's "
            "day (date) with unknown faces and refused messages")
def review(request: Request, start: IsoDate | None = None, end: IsoDate | None = None, opd: str | None = None,
           date: IsoDate | None = None,  # noqa: A002 - the query name
           p: Principal = Depends(current)) -> list[dict] | dict:
    if start is None and end is None:
        return _day(request, p, opd, date)
    if start is None or end is None:
        raise ApiError(422, "invalid", "start and end: give both (or neither, with date)", "start")
    if p.role == "employee":
        raise ApiError(403, "forbidden", "the review list is for OPD heads and the payroll office")
    if not (1900 <= start.year <= 2099 and 1900 <= end.year <= 2099):
        raise ApiError(422, "invalid", "start: dates must be between 1900 and 2099", "start")
    if end < start or (end - start).days > 62:
        raise ApiError(422, "invalid", "end: must be on or after start and at most 62 days later", "end")
    att = request.app.state.attendance
    lo = datetime.combine(start, time.min, att.tz)
    hi = datetime.combine(end + timedelta(days=1), time.min, att.tz)
    return uncounted(att, lo, hi, scope_opd(p, opd))


def _day(request: Request, p: Principal, opd: str | None, day_in: date | None) -> dict:
    code = opd_in_scope(request, p, opd)
    day = parse_day(request, day_in)
    state = request.app.state
    tz = state.attendance.tz
    entry = state.results.entry(code, day.strftime("%Y-%m"))
    with entry.lock:
        items = day_uncounted(entry, day, tz, state.quarantine, state.registry.epochs)
    return {"opd": code, "tanggal": day.isoformat(), "tanggal_panjang": long_date(day),
            "butir": [{"waktu": u.at.astimezone(tz).strftime("%H:%M:%S"),
                       "hari": u.at.astimezone(tz).date().isoformat(), "jenis": u.kind, "alasan": u.reason,
                       "nip": u.nip, "nama": u.name, "perangkat": u.device, "event": u.event, "detail": u.detail}
                      for u in items]}
