"""Corrections (punches added by hand) under the four-eyes rule, and months closed by the payroll office.

A correction is requested by one user and counts only once a second user with the right role approves
it. No correction, leave or duty order may touch a month the payroll office has closed; reopening a
month is audited with its reason. Corrections in the future are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.master import AuditLog, ClosedMonth, Correction, MasterData

CLOCK_SLACK = timedelta(minutes=1)  # a request typed "now" on a device whose clock is slightly ahead


class CorrectionError(ValueError):
    """A refused request: `kind` is invalid (422), not_found (404), forbidden (403) or conflict (409)."""

    def __init__(self, kind: str, message: str, field: str | None = None):
        super().__init__(message)
        self.kind, self.field = kind, field


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def closed_months(master: MasterData) -> list[ClosedMonth]:
    with master.session() as s:
        return list(s.scalars(select(ClosedMonth).order_by(ClosedMonth.month)))


def ensure_open(master: MasterData, days: Iterable[date]) -> None:
    """Raise a conflict when any of `days` falls in a closed month."""
    months = {month_of(d) for d in days}
    with master.session() as s:
        closed = sorted(m for m in months if s.get(ClosedMonth, m) is not None)
    if closed:
        raise CorrectionError("conflict", f"month {closed[0]} is closed by the payroll office (reopen it first)")


def span_days(start: date, end: date) -> list[date]:
    """One day in each month that [start, end] touches: enough for `ensure_open`."""
    days, d = [start], start
    while (d.year, d.month) < (end.year, end.month):
        d = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
        days.append(d)
    return days


def close_month(master: MasterData, actor: str, month: str, today: date) -> ClosedMonth:
    """Close a month that has ended (audited). Closing it twice is a conflict."""
    year, mon = (int(x) for x in month.split("-"))
    if (year, mon) >= (today.year, today.month):
        raise CorrectionError("invalid", f"month: {month} has not ended yet", "month")
    with master.session() as s:
        if s.get(ClosedMonth, month) is not None:
            raise CorrectionError("conflict", f"month {month} is already closed")
        row = ClosedMonth(month=month, closed_by=actor, closed_at=datetime.now(timezone.utc))
        s.add(row)
        s.flush()
        master.audit(s, actor, "close", row)
        return row


def reopen_month(master: MasterData, actor: str, month: str, reason: str) -> None:
    """Reopen a closed month; the audit log keeps who, when and why."""
    with master.session() as s:
        row = s.get(ClosedMonth, month)
        if row is None:
            raise CorrectionError("not_found", f"month {month} is not closed", "month")
        s.add(AuditLog(at=datetime.now(timezone.utc), actor=actor, action="reopen", entity="closed_month",
                       entity_id=month, detail={"month": month, "closed_by": row.closed_by, "reason": reason}))
        s.delete(row)


def request_correction(master: MasterData, actor: str, nip: str, at: datetime, reason: str, tz: ZoneInfo,
                       now: datetime | None = None) -> Correction:
    """A pending correction (audited); refused in the future or in a closed month."""
    now = now or datetime.now(timezone.utc)
    if at > now + CLOCK_SLACK:
        raise CorrectionError("invalid", "at: in the future (a correction records a punch that happened)", "at")
    ensure_open(master, [at.astimezone(tz).date()])
    with master.session() as s:
        row = Correction(nip=nip, at=at.astimezone(timezone.utc).replace(tzinfo=None), reason=reason,
                         status="pending", requested_by=actor, requested_at=now)
        s.add(row)
        s.flush()
        master.audit(s, actor, "request", row)
        return row


def get_correction(master: MasterData, correction_id: int) -> Correction | None:
    with master.session() as s:
        return s.get(Correction, correction_id)


def decide_correction(master: MasterData, actor: str, correction_id: int, approve: bool, note: str, tz: ZoneInfo
                      ) -> Correction:
    """Approve or reject a pending correction. The decider must not be the requester (the caller checks
    the decider's role and OPD); the month must still be open."""
    with master.session() as s:
        row = s.get(Correction, correction_id)
        if row is None:
            raise CorrectionError("not_found", f"no correction {correction_id}", "id")
        if row.status != "pending":
            raise CorrectionError("conflict", f"correction {correction_id} is already {row.status}")
        if row.requested_by == actor:
            raise CorrectionError("forbidden", "a correction must be approved by someone other than its requester")
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=timezone.utc)
        ensure_open(master, [at.astimezone(tz).date()])
        row.status = "approved" if approve else "rejected"
        row.approved_by, row.decided_at = actor, datetime.now(timezone.utc)
        s.flush()
        s.add(AuditLog(at=row.decided_at, actor=actor, action="approve" if approve else "reject",
                       entity="correction", entity_id=str(row.id),
                       detail={"nip": row.nip, "at": at.isoformat(), "requested_by": row.requested_by,
                               "note": note}))
        return row
