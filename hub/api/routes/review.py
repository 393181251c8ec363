"""Perlu ditinjau: what the hub did not count on a day for an OPD, and why (see hub.review)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request

from hub.api.auth import Principal, current
from hub.api.routes.app_views import opd_in_scope, parse_day
from hub.api.views import long_date
from hub.review import uncounted

router = APIRouter()


@router.get("/review", summary="Events of a day the hub did not count for an OPD, with the reason (Bahasa Indonesia)")
def review(request: Request, opd: str | None = None, date: date | None = None,  # noqa: A002 - the query name
           p: Principal = Depends(current)) -> dict:
    code = opd_in_scope(request, p, opd)
    day = parse_day(request, date)
    state = request.app.state
    tz = state.attendance.tz
    entry = state.results.entry(code, day.strftime("%Y-%m"))
    with entry.lock:
        items = uncounted(entry, day, tz, state.quarantine)
    return {"opd": code, "tanggal": day.isoformat(), "tanggal_panjang": long_date(day),
            "butir": [{"waktu": u.at.astimezone(tz).strftime("%H:%M:%S"), "jenis": u.kind, "alasan": u.reason,
                       "nip": u.nip, "nama": u.name, "perangkat": u.device, "event": u.event, "detail": u.detail}
                      for u in items]}
