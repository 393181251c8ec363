"""Registered devices: public keys (for signature checks), fixed sites, revocation and last known state."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hadir.contract import DeviceState, Telemetry
from hadir.signing import public_key_from_b64
from hadir.sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, opd TEXT, site TEXT,
    registered_at TEXT NOT NULL, revoked_at TEXT,
    state TEXT, state_at TEXT, last_seen TEXT, outbox_depth INTEGER, gallery_version INTEGER,
    gps_state TEXT, inference_ms REAL);
-- Where retention cut each device's chain: the last deleted event, so verification links across the cut.
CREATE TABLE IF NOT EXISTS chain_anchors (
    device_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL, cut_at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class ChainAnchor:
    """The last event retention deleted from a device's chain: the first kept event must link to `hash`."""

    seq: int
    hash: str
    cut_at: str


@dataclass(frozen=True)
class Device:
    device_id: str
    public_key: str
    opd: str | None
    site: str | None
    revoked: bool
    state: str | None
    last_seen: str | None
    outbox_depth: int | None
    gallery_version: int | None
    gps_state: str | None


class DeviceRegistry:
    """The registry's SQLite file, `FILE` in the hub's data folder (the one place that names it)."""

    FILE = "devices.sqlite"

    @classmethod
    def in_dir(cls, data_dir: Path) -> DeviceRegistry:
        """The registry kept in the hub data folder `data_dir`."""
        return cls(Path(data_dir) / cls.FILE)

    def __init__(self, path: Path | str):
        self._lock = threading.Lock()
        self._db = connect(path, synchronous="FULL")
        self._db.executescript(_SCHEMA)
        self._keys: dict[str, Ed25519PublicKey | None] = {}

    def register(self, device_id: str, public_key_b64: str, *, opd: str | None = None,
                 site: str | None = None, at: datetime | None = None) -> None:
        public_key_from_b64(public_key_b64)  # refuse a malformed key now, not at the first event
        with self._lock:
            self._db.execute(
                "INSERT INTO devices (device_id, public_key, opd, site, registered_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(device_id) DO UPDATE SET public_key = excluded.public_key, opd = excluded.opd, "
                "site = excluded.site, revoked_at = NULL",
                (device_id, public_key_b64, opd, site, (at or datetime.now()).isoformat()))
            self._keys.pop(device_id, None)

    def assign(self, device_id: str, *, opd: str | None, site: str | None = None) -> bool:
        """Move a registered device to another OPD (and site) without touching its key; False if unknown."""
        with self._lock:
            cur = self._db.execute("UPDATE devices SET opd = ?, site = COALESCE(?, site) WHERE device_id = ?",
                                   (opd, site, device_id))
        return cur.rowcount == 1

    def get(self, device_id: str) -> Device | None:
        """One registered device, or None."""
        return next((d for d in self.all() if d.device_id == device_id), None)

    def revoke(self, device_id: str, at: datetime) -> None:
        with self._lock:
            self._db.execute("UPDATE devices SET revoked_at = ? WHERE device_id = ?", (at.isoformat(), device_id))
            self._keys.pop(device_id, None)

    def public_key(self, device_id: str) -> Ed25519PublicKey | None:
        """The key to verify this device's events with; None if unknown or revoked."""
        if device_id not in self._keys:
            with self._lock:
                row = self._db.execute("SELECT public_key, revoked_at FROM devices WHERE device_id = ?",
                                       (device_id,)).fetchone()
            self._keys[device_id] = public_key_from_b64(row[0]) if row and row[1] is None else None
        return self._keys[device_id]

    def record_state(self, state: DeviceState, at: datetime) -> None:
        with self._lock:
            self._db.execute("UPDATE devices SET state = ?, state_at = ?, last_seen = ?, gallery_version = ? "
                             "WHERE device_id = ?", (state.state, at.isoformat(), at.isoformat(),
                                                     state.gallery_version, state.device_id))

    def record_telemetry(self, t: Telemetry, at: datetime) -> None:
        with self._lock:
            self._db.execute("UPDATE devices SET last_seen = ?, outbox_depth = ?, gps_state = ?, "
                             "inference_ms = ? WHERE device_id = ?",
                             (at.isoformat(), t.outbox_depth, t.gps_state, t.inference_ms, t.device_id))

    def set_chain_anchor(self, device_id: str, seq: int, digest: str, at: datetime) -> None:
        with self._lock:
            self._db.execute("INSERT INTO chain_anchors VALUES (?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET "
                             "seq = excluded.seq, hash = excluded.hash, cut_at = excluded.cut_at "
                             "WHERE excluded.seq > chain_anchors.seq", (device_id, seq, digest, at.isoformat()))

    def chain_anchor(self, device_id: str) -> ChainAnchor | None:
        with self._lock:
            row = self._db.execute("SELECT seq, hash, cut_at FROM chain_anchors WHERE device_id = ?",
                                   (device_id,)).fetchone()
        return ChainAnchor(*row) if row else None

    def online_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM devices WHERE state = 'online' AND revoked_at IS NULL"
                                    ).fetchone()[0]

    def all(self) -> list[Device]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, public_key, opd, site, revoked_at IS NOT NULL, state, last_seen, outbox_depth, "
                "gallery_version, gps_state FROM devices ORDER BY device_id").fetchall()
        return [Device(*r) for r in rows]
