"""The device's copy of its assignments (sites, staff, duty orders) as last signed by the hub.

Kept on disk so a field device works offline for days: only a message whose hub signature verifies, that
names this device and is newer than the one held replaces it.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from hadir.contract import Assignments
from hadir.geo import Place
from hadir.signing import verify_message

log = logging.getLogger(__name__)


class AssignmentBook:
    def __init__(self, path: Path, device_id: str, hub_key: Ed25519PublicKey | None):
        self.path, self.device_id, self.hub_key = Path(path), device_id, hub_key
        self._lock = threading.Lock()
        self.current: Assignments | None = None
        self.refused = ""  # why the last message from the hub was not taken (shown on the screen)
        if self.path.is_file():
            try:
                held = Assignments.model_validate_json(self.path.read_bytes())
            except (ValidationError, ValueError) as exc:
                log.error("assignments file %s unreadable (%s): waiting for the hub to send them again",
                          self.path, exc)
            else:
                if self._acceptable(held):
                    self.current = held

    def _acceptable(self, msg: Assignments) -> bool:
        if self.hub_key is None:
            self.refused = "no hub public key on this device: assignments cannot be verified"
        elif msg.device_id != self.device_id:
            self.refused = f"assignments for {msg.device_id}, not this device"
        elif not verify_message(msg, self.hub_key):
            self.refused = "assignments signature does not verify with the hub's key"
        else:
            return True
        log.error("assignments refused: %s", self.refused)
        return False

    def apply(self, msg: Assignments) -> bool:
        """Keep `msg` if it is the hub's, for this device, and newer than what is held (True when kept)."""
        if not self._acceptable(msg):
            return False
        with self._lock:
            if self.current is not None and msg.issued_at <= self.current.issued_at:
                return False
            tmp = self.path.with_suffix(".tmp")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(msg.model_dump_json())
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            tmp.replace(self.path)
            self.current, self.refused = msg, ""
        log.info("assignments of %s: %d sites, %d duty orders, %d people", msg.issued_at, len(msg.sites),
                 len(msg.duty_orders), len(msg.people))
        return True

    def name_of(self, nip: str | None) -> str:
        if nip is None or self.current is None:
            return ""
        return next((p.name for p in self.current.people if p.nip == nip), "")

    def duties_on(self, day: date, nip: str | None = None) -> list:
        if self.current is None:
            return []
        return [d for d in self.current.duty_orders if d.start <= day <= d.end and (nip is None or d.nip == nip)]

    def places(self, day: date, nip: str | None = None) -> list[Place]:
        """Where check-ins count on `day`: the OPD's sites and the destinations of active duty orders
        (of `nip` only, when given)."""
        if self.current is None:
            return []
        places = [Place(s.lat, s.lon, s.radius_m, s.name) for s in self.current.sites]
        places += [Place(d.lat, d.lon, d.radius_m, d.destination or d.number, d.start, d.end)
                   for d in self.duties_on(day, nip) if d.lat is not None and d.lon is not None]
        return places
