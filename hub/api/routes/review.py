"""GET /review: stored events that did not count for attendance, with reasons (for the review list)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from fastapi import APIRouter, Depends, Request

from hub.api.auth import Principal, current, scope_opd
from hub.api.errors import ApiError
from hub.api.schemas import IsoDate
from hub.review import uncounted

router = APIRouter()


@router.get("/review", summary="Events not counted for attendance (liveness failed or inconclusive, outside "
            "the geofence, clock flags), with the reason and the measured liveness cues")
def review(request: Request, start: IsoDate, end: IsoDate, opd: str | None = None,
           p: Principal = Depends(current)) -> list[dict]:
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
