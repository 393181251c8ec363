"""What the hub did not count on a day for an OPD, and why: so an OPD head sees it and can raise a correction
instead of an employee silently getting TK.

Three sources: punches of the OPD's staff that did not count (liveness failed, outside the geofence, no
GPS on a field check-in, clock or chain flags, spoofed GPS, outside the check-in/out windows), unknown
faces seen by the OPD's devices, and messages from the OPD's devices that the hub refused outright
(quarantine: bad signature, unregistered device, forked chain, malformed). Reasons in Bahasa Indonesia.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hadir.contract import parse_topic
from hub.ingest.quarantine import Quarantine
from hub.results import Entry

# Reasons of hub/tpp/resolve.py for a valid punch outside the windows (English there), in Bahasa Indonesia.
_BEFORE = re.compile(r"more than (\d+) min before the start of work \((\d\d:\d\d)\)")
_AFTER = re.compile(r"after the check-out window closed \((\d\d:\d\d)\)")
_FUTURE = "after the moment of this calculation"

QUARANTINE_REASONS = {
    "bad_signature": "tanda tangan digital tidak sah (kemungkinan pesan palsu)",
    "unknown_device": "perangkat belum terdaftar atau sudah dicabut",
    "fork": "nomor urut sudah dipakai event lain (rantai bercabang)",
    "bad_topic": "topik MQTT tidak sesuai",
    "invalid": "isi pesan tidak sah",
    "too_large": "pesan terlalu besar",
}


@dataclass(frozen=True)
class Uncounted:
    at: datetime
    kind: str  # "presensi", "tidak_dikenali", "ditolak"
    reason: str  # Bahasa Indonesia
    nip: str | None = None
    name: str | None = None
    device: str | None = None
    event: str | None = None
    detail: str = ""


def window_reason(why: str) -> str | None:
    """A resolver's reason in Bahasa Indonesia; None for a punch after the moment of the calculation."""
    if why.startswith(_FUTURE):
        return None
    if m := _BEFORE.match(why):
        return f"lebih dari {m[1]} menit sebelum jam masuk ({m[2]}): tidak dihitung sebagai presensi masuk"
    if m := _AFTER.match(why):
        return f"setelah jendela presensi pulang ditutup ({m[1]})"
    return why


def _device_of(ref: str | None) -> str | None:
    if not ref or ref.startswith("correction:"):
        return None
    return ref.rpartition(":")[0] or None


def uncounted(entry: Entry, day: date, tz: ZoneInfo, quarantine: Quarantine | None = None) -> list[Uncounted]:
    """Everything of `day` that the OPD's results do not count, oldest first. Read under `entry.lock`."""
    out: list[Uncounted] = []
    at_of = {p.ref: p.at for punches in entry.punches.values() for p in punches if p.ref}
    for nip, row in entry.rows.items():
        for d in row.tpp.days:
            if d.date != day:
                continue
            for ref, why in d.ignored:
                reason = window_reason(why)
                if reason is None or ref not in at_of:
                    continue
                out.append(Uncounted(at_of[ref], "presensi", reason, nip, row.employee.name, _device_of(ref), ref))
    for at, key, device in entry.unknown:
        if at.astimezone(tz).date() == day:
            out.append(Uncounted(at, "tidak_dikenali", "wajah tidak dikenali (tidak cocok dengan pegawai mana pun)",
                                 device=device, event=key))
    if quarantine is not None:
        start = datetime.combine(day, time.min, tz)
        for received, topic, reason, detail in quarantine.between(start, start + timedelta(days=1)):
            try:
                device, _ = parse_topic(topic)
            except ValueError:
                continue
            if device in entry.devices:
                out.append(Uncounted(datetime.fromisoformat(received), "ditolak",
                                     QUARANTINE_REASONS.get(reason, f"ditolak hub ({reason})"), device=device,
                                     detail=detail))
    out.sort(key=lambda u: u.at)
    return out

