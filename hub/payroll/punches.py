"""Stored events -> punches for the rules: which raw events count for attendance, and why the others do not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from hadir.contract import EventKind
from hadir.geo import Place, inside_any
from hadir.wit import WIT
from hub.store.base import StoredEvent
from hub.tpp.resolve import Punch

# Flags that make an event's time or origin untrustworthy for attendance (see hub/ingest/verify.py).
DISQUALIFYING_FLAGS = {
    "clock_unset": "jam perangkat belum disetel",
    "clock_replay": "waktu dari rekaman video, bukan jam perangkat",
    "clock_ahead": "jam perangkat di depan waktu server",
    "past_dated": "terkirim setelah bulannya ditutup atau terlalu lama; berlaku hanya dengan koreksi yang disetujui",
    "clock_disagrees_gps": "jam perangkat tidak sesuai waktu GPS",
    "chain_break": "rantai event perangkat terputus",
    "gps_no_satellites": "GPS mengaku fix tanpa satelit",
    "outside_geofence": "di luar radius lokasi",
    "gps_impossible_speed": "perpindahan GPS mustahil (terlalu cepat)",
    "gps_duplicate_coordinates": "koordinat GPS identik dengan laporan lain",
}

# A liveness check that did not pass never counts, but the two outcomes say different things to a reviewer.
LIVENESS_REASONS = {
    "spoof": "uji wajah hidup gagal (indikasi foto atau layar)",
    "inconclusive": "uji wajah hidup belum meyakinkan, perlu ditinjau",
}


def _outside(ev, places: list[Place] | None, tz: ZoneInfo) -> str | None:
    """Why the event's place does not count, or None. No places configured: no geofence check."""
    if places is None:
        return None
    if ev.gps is None:
        # A mounted terminal's place is its registration; a field check-in must say where it was.
        return "tanpa lokasi GPS" if ev.kind is EventKind.FIELD_CHECKIN else None
    day = ev.captured_at.astimezone(tz).date()
    if inside_any(places, ev.gps.lat, ev.gps.lon, day) is None:
        return DISQUALIFYING_FLAGS["outside_geofence"]
    return None


def punches_by_employee(events: Iterable[StoredEvent], places: dict[str, list[Place]] | None = None,
                        tz: ZoneInfo = WIT) -> dict[str, list[Punch]]:
    """`places`: per NIP, where that employee may check in (office sites, duty destinations with dates);
    None skips the geofence (no sites configured)."""
    out: dict[str, list[Punch]] = defaultdict(list)
    for item in events:
        ev = item.event
        if ev.kind is EventKind.UNKNOWN_FACE or ev.employee_id is None:
            continue
        reason = None
        if ev.liveness.method != "none" and not ev.liveness.passed:
            reason = LIVENESS_REASONS.get(ev.liveness.outcome or "spoof", LIVENESS_REASONS["spoof"])
        for flag in item.flags:
            if flag in DISQUALIFYING_FLAGS:
                reason = DISQUALIFYING_FLAGS[flag]
                break
        if reason is None and places is not None:
            reason = _outside(ev, places.get(ev.employee_id, []), tz)
        out[ev.employee_id].append(Punch(at=ev.captured_at, valid=reason is None, reason=reason, ref=ev.key))
    for punches in out.values():
        punches.sort(key=lambda p: p.at)
    return dict(out)
