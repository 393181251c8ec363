"""Assignments sent down to each device (down/assignments): its OPD's office sites, staff and the duty
orders running now or soon, signed with the hub's key and retained by the broker.

A publisher thread rebuilds them every `assignments_every_s` and sends a device a new copy only when
its content changed (or the day did), so a change in master data reaches field devices within that time,
and a device that connects after days offline gets the latest copy from the broker at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hadir.contract import AssignedDuty, AssignedPerson, AssignedSite, Assignments, Channel, topic, utcnow
from hadir.signing import sign_message
from hadir.wit import WIT
from hub.master import DutyOrder, MasterData, Site
from hub.registry import DeviceRegistry

log = logging.getLogger(__name__)

HORIZON_DAYS = 14  # duty orders starting within this many days are sent ahead, for a device out of signal


def assignments_for(master: MasterData, device_id: str, opd: str | None, today: date,
                    issued_at: datetime | None = None) -> Assignments:
    """The unsigned assignments of one device: everything of its OPD (of every OPD when it has none)."""
    people = master.employees(opd)
    nips = {e.nip for e in people}
    sites = master.list(Site, opd_code=opd)
    duties = [d for d in master.list(DutyOrder) if d.nip in nips and d.end >= today
              and d.start <= today + timedelta(days=HORIZON_DAYS)]
    return Assignments(
        device_id=device_id, issued_at=issued_at or utcnow(),
        people=[AssignedPerson(nip=e.nip, name=e.name) for e in people],
        sites=[AssignedSite(name=s.name, lat=s.lat, lon=s.lon, radius_m=s.radius_m) for s in sites],
        duty_orders=[AssignedDuty(number=d.number, nip=d.nip, destination=d.destination, lat=d.lat, lon=d.lon,
                                  radius_m=d.radius_m, start=d.start, end=d.end)
                     for d in sorted(duties, key=lambda d: (d.start, d.nip, d.id))])


def _content_digest(a: Assignments) -> str:
    return hashlib.sha256(a.model_copy(update={"issued_at": datetime(2000, 1, 1, tzinfo=WIT)})
                          .canonical_body()).hexdigest()


class AssignmentPublisher:
    def __init__(self, master: MasterData, registry: DeviceRegistry, key: Ed25519PrivateKey,
                 publish: Callable[[str, bytes], None], every_s: float = 60.0):
        self.master, self.registry, self.key, self.publish = master, registry, key, publish
        self.every_s = every_s
        self._sent: dict[str, tuple[str, date]] = {}  # device -> (content digest, day) last published
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish_changed(self, now: datetime | None = None) -> int:
        """Publish to every active device whose assignments changed since the last copy; returns how many."""
        now = now or utcnow()
        today = now.astimezone(WIT).date()
        sent = 0
        for device in self.registry.all():
            if device.revoked:
                continue
            update = assignments_for(self.master, device.device_id, device.opd, today, now)
            digest = _content_digest(update)
            if self._sent.get(device.device_id) == (digest, today):
                continue
            signed = sign_message(update, self.key)
            self.publish(topic(device.device_id, Channel.ASSIGNMENTS), signed.model_dump_json().encode())
            self._sent[device.device_id] = (digest, today)
            sent += 1
        return sent

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.publish_changed()
            except Exception:
                log.exception("publishing assignments failed; retrying in %.0f s", self.every_s)
            self._stop.wait(self.every_s)

    def start(self) -> AssignmentPublisher:
        self._thread = threading.Thread(target=self._run, name="assignments", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
