"""What the hub did not count, and why ("Perlu ditinjau"): so an OPD head sees it and can raise a correction
instead of an employee silently getting TK.

Nothing a device sends is dropped quietly: an event whose liveness check failed or was inconclusive, that
lies outside its geofence or carries a clock flag is kept raw in the store and does not count for
attendance (hub/payroll/punches.py).

`uncounted`: stored employee events of a period that do not count, with the measured liveness cues
(GET /review?start=&end=). `day_uncounted`: the web app's list of one day for an OPD from its kept results,
from three sources: punches of the OPD's staff that did not count (liveness failed, outside the geofence, no
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
from hub.attendance import Attendance
from hub.ingest.quarantine import Quarantine
from hub.payroll.punches import punches_by_employee
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
    return "tidak sah" if why == "invalid" else why


def _device_of(ref: str | None) -> str | None:
    if not ref or ref.startswith("correction:"):
        return None
    return ref.rpartition(":")[0] or None


def day_uncounted(entry: Entry, day: date, tz: ZoneInfo, quarantine: Quarantine | None = None) -> list[Uncounted]:
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
