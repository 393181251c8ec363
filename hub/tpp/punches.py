"""Stored events -> punches: which raw events count for attendance, and why the others do not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from hadir.contract import EventKind
from hub.store.base import StoredEvent
from hub.tpp.resolve import Punch

# Flags that make an event's time or origin untrustworthy for attendance (see hub/ingest/verify.py).
DISQUALIFYING_FLAGS = {
    "clock_unset": "jam perangkat belum disetel",
    "clock_replay": "waktu dari rekaman video, bukan jam perangkat",
    "clock_ahead": "jam perangkat di depan waktu server",
    "clock_disagrees_gps": "jam perangkat tidak sesuai waktu GPS",
    "chain_break": "rantai event perangkat terputus",
    "gps_no_satellites": "GPS mengaku fix tanpa satelit",
    "outside_geofence": "di luar radius lokasi",
}


def punches_by_employee(events: Iterable[StoredEvent]) -> dict[str, list[Punch]]:
    out: dict[str, list[Punch]] = defaultdict(list)
    for item in events:
        ev = item.event
        if ev.kind is EventKind.UNKNOWN_FACE or ev.employee_id is None:
            continue
        reason = None
        if ev.liveness.method != "none" and not ev.liveness.passed:
            reason = "liveness gagal"
        for flag in item.flags:
            if flag in DISQUALIFYING_FLAGS:
                reason = DISQUALIFYING_FLAGS[flag]
                break
        out[ev.employee_id].append(Punch(at=ev.captured_at, valid=reason is None, reason=reason, ref=ev.key))
    for punches in out.values():
        punches.sort(key=lambda p: p.at)
    return dict(out)
