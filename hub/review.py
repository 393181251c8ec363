"""The review list ("Perlu ditinjau"): events the hub stored but did not count, and why.

Nothing a device sends is dropped quietly: an event whose liveness check failed or was inconclusive, that
lies outside its geofence or carries a clock flag is kept raw in the store and does not count for
attendance (hub/tpp/punches.py); this list puts it in front of an OPD head, with the measured liveness
cues, so a correction can be raised instead of an employee silently getting TK.
"""

from __future__ import annotations

from datetime import datetime

from hub.attendance import Attendance
from hub.payroll.punches import punches_by_employee


def uncounted(att: Attendance, start: datetime, end: datetime, opd_code: str | None = None,
              nip: str | None = None) -> list[dict]:
    """Employee events captured in [start, end) that do not count, oldest first, with their reasons."""
    items = att.store.between(start, end)
    reasons = {p.ref: p.reason for punches in punches_by_employee(items, att.places(), att.tz).values()
               for p in punches if not p.valid}
    staff = {e.nip for e in att.master.employees(opd_code)} if opd_code else None
    out = []
    for item in items:
        ev = item.event
        if ev.key not in reasons or (staff is not None and ev.employee_id not in staff):
            continue
        if nip and ev.employee_id != nip:
            continue
        live = ev.liveness
        out.append({
            "event": ev.key, "nip": ev.employee_id, "perangkat": ev.device_id,
            "waktu": ev.captured_at.astimezone(att.tz).isoformat(timespec="seconds"),
            "alasan": reasons[ev.key], "tanda": list(item.flags), "skor_wajah": ev.score,
            "liveness": {"metode": live.method, "hasil": live.outcome, "skor": live.score,
                         "ukuran": live.scores or {}},
        })
    return out
