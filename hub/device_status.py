"""The state of an OPD's devices as an IT officer needs it: honestly online or not, and what needs a visit.

A device's retained state says "online" until its last will says otherwise, which can lag a dead link by
the broker's keep-alive; telemetry comes every minute. So a device is shown online only if it said so and
was heard from within `SILENT_AFTER`; otherwise it is offline "since" its last message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hub.registry import Device
from hub.store.base import EventStore

SILENT_AFTER = timedelta(minutes=5)  # five missed telemetry messages (every 60 s)
OUTBOX_ALERT = 500  # events waiting on the device: the link or the hub has been away for a while


@dataclass(frozen=True)
class DeviceStatus:
    device: Device
    online: bool
    last_seen: datetime | None
    silent_for: timedelta | None
    last_event: datetime | None
    chain_breaks: int  # today's events flagged chain_break
    alerts: tuple[str, ...]  # Bahasa Indonesia


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def status(device: Device, store: EventStore, day_start: datetime, now: datetime) -> DeviceStatus:
    """One device's status; `day_start` bounds "today" for its events (chain breaks, last event)."""
    last_seen = _parse(device.last_seen)
    silent = now - last_seen if last_seen else None
    online = device.state == "online" and silent is not None and silent <= SILENT_AFTER and not device.revoked
    events = store.device_events(device.device_id, day_start, now + timedelta(minutes=5))
    breaks = sum(1 for e in events if "chain_break" in e.flags)
    last_event = max((e.event.captured_at for e in events), default=None)
    alerts = []
    if device.revoked:
        alerts.append("perangkat dicabut: event-nya tidak diterima")
    elif not online:
        alerts.append(f"tidak terhubung sejak {_ago(silent)}" if silent is not None
                      else "tidak terhubung: belum pernah melapor")
    if breaks:
        alerts.append(f"rantai event terputus {breaks} kali hari ini: periksa perangkat (diganti atau diutak-atik?)")
    if device.outbox_depth is not None and device.outbox_depth >= OUTBOX_ALERT:
        alerts.append(f"antrean {device.outbox_depth} presensi belum terkirim")
    if device.gps_state == "no_fix":
        alerts.append("GPS belum mendapat posisi")
    return DeviceStatus(device, online, last_seen, silent, last_event, breaks, tuple(alerts))


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} menit lalu"
    if minutes < 48 * 60:
        return f"{minutes // 60} jam lalu"
    return f"{minutes // (24 * 60)} hari lalu"
