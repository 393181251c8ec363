"""Registered devices: public keys (for signature checks), gallery keys, broker passwords, fixed sites,
revocation and last known state.

Several processes share this file (the running hub, `hadir device provision/revoke`, `hadir-hub
register-device`). Keys are cached for speed, but every lookup first asks SQLite whether another
connection changed the file (`PRAGMA data_version`), so a revocation or a new key takes effect in the
running hub at its next event, not at its next restart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from hadir.contract import DeviceState, Telemetry, reserved_device_id
from hadir.sealed import box_public_from_b64
from hadir.signing import public_key_from_b64
from hadir.sqlite import connect
from hub.epochs import EpochLedger

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
# Added after the first release: (column, type), created on open when missing.
_LATER_COLUMNS = [("box_key", "TEXT"), ("broker_secret", "TEXT"), ("held", "INTEGER"), ("alarm", "TEXT"),
                  ("last_seq", "INTEGER")]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class RegistryError(ValueError):
    pass


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
    box_key: str | None = None
    held: int | None = None
    alarm: str | None = None
    last_seq: int | None = None


def _secret_hash(secret: str) -> str:
    # Broker passwords are 32 random bytes: a plain SHA-256 is enough (nothing to brute-force).
    return hashlib.sha256(secret.encode()).hexdigest()


class DeviceRegistry:
    """The registry's SQLite file, `FILE` in the hub's data folder (the one place that names it)."""

    FILE = "devices.sqlite"

    @classmethod
    def in_dir(cls, data_dir: Path) -> DeviceRegistry:
        """The registry kept in the hub data folder `data_dir`."""
        return cls(Path(data_dir) / cls.FILE)

    def __init__(self, path: Path | str):
        self.path = path
        self._lock = threading.Lock()
        self._epochs: EpochLedger | None = None
        self._db = connect(path, synchronous="FULL")
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(devices)")}
        for name, kind in _LATER_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE devices ADD COLUMN {name} {kind}")
        self._keys: dict[str, Ed25519PublicKey | None] = {}
        self._seen_written: dict[str, datetime] = {}
        self._data_version = self._version()

    @property
    def epochs(self) -> EpochLedger:
        """The devices' outbox epochs and their reports (hub/epochs.py), kept in this same file."""
        if self._epochs is None:
            self._epochs = EpochLedger(self.path)
        return self._epochs

    def _version(self) -> int:
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def _fresh(self) -> None:
        """Drop cached keys if another connection (CLI, another hub process) changed the file. Caller holds
        the lock. data_version is per connection and costs no disk read."""
        version = self._version()
        if version != self._data_version:
            self._data_version = version
            self._keys.clear()

    def register(self, device_id: str, public_key_b64: str, *, box_key_b64: str | None = None,
                 opd: str | None = None, site: str | None = None, at: datetime | None = None) -> None:
        """Register (or re-register) a device: its event-signing key and its gallery key."""
        if reserved_device_id(device_id):
            raise RegistryError(f"{device_id!r} is reserved for the hub and cannot be a device")
        public_key_from_b64(public_key_b64)  # refuse a malformed key now, not at the first event
        if box_key_b64 is not None:
            box_public_from_b64(box_key_b64)
        with self._lock:
            self._db.execute(
                "INSERT INTO devices (device_id, public_key, box_key, opd, site, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET public_key = excluded.public_key, "
                # Another signing key is another device (a replacement): the old hardware's gallery key and
                # broker password go with it, so it can neither connect nor open a gallery sealed after this.
                "box_key = CASE WHEN devices.public_key = excluded.public_key "
                "THEN COALESCE(excluded.box_key, devices.box_key) ELSE excluded.box_key END, "
                "broker_secret = CASE WHEN devices.public_key = excluded.public_key "
                "THEN devices.broker_secret ELSE NULL END, "
                "opd = excluded.opd, site = excluded.site, revoked_at = NULL",
                (device_id, public_key_b64, box_key_b64, opd, site,
                 (at or datetime.now(timezone.utc)).isoformat()))
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

    def refresh(self) -> None:
        """Forget cached keys if the file changed (what public_key does each time unless fresh=False)."""
        with self._lock:
            self._fresh()

    def public_key(self, device_id: str, *, fresh: bool = True) -> Ed25519PublicKey | None:
        """The key to verify this device's events with; None if unknown or revoked. fresh=False skips the
        change check (the caller did `refresh()` for its batch)."""
        with self._lock:
            if fresh:
                self._fresh()
            if device_id not in self._keys:
                row = self._db.execute("SELECT public_key, revoked_at FROM devices WHERE device_id = ?",
                                       (device_id,)).fetchone()
                self._keys[device_id] = public_key_from_b64(row[0]) if row and row[1] is None else None
            return self._keys[device_id]

    def box_key(self, device_id: str) -> X25519PublicKey | None:
        """The device's gallery encryption key (None: not provisioned with one, galleries are not sent)."""
        with self._lock:
            row = self._db.execute("SELECT box_key FROM devices WHERE device_id = ? AND revoked_at IS NULL",
                                   (device_id,)).fetchone()
        return box_public_from_b64(row[0]) if row and row[0] else None

    # -- broker passwords (embedded broker) -------------------------------------------------------------
    def issue_broker_secret(self, device_id: str) -> str:
        """A new MQTT password for the device on the embedded broker (the old one stops working)."""
        secret = secrets.token_urlsafe(32)
        with self._lock:
            n = self._db.execute("UPDATE devices SET broker_secret = ? WHERE device_id = ?",
                                 (_secret_hash(secret), device_id)).rowcount
        if not n:
            raise RegistryError(f"device {device_id!r} is not registered")
        return secret

    def broker_secret_ok(self, device_id: str, secret: str) -> bool:
        """True for a registered, not revoked device presenting its current broker password."""
        with self._lock:
            row = self._db.execute("SELECT broker_secret FROM devices WHERE device_id = ? AND revoked_at IS NULL",
                                   (device_id,)).fetchone()
        return bool(row and row[0]) and hmac.compare_digest(row[0], _secret_hash(secret))

    def active(self, device_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT revoked_at FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return row is not None and row[0] is None

    # -- what devices report ------------------------------------------------------------------------------
    def record_state(self, state: DeviceState, at: datetime, *, live: bool = True) -> None:
        """`live`: the message was published now (not a retained copy replayed by the broker), so it
        proves the device was there; a replay updates the state but never `last_seen`."""
        with self._lock:
            self._db.execute(
                "UPDATE devices SET state = ?, state_at = ?, gallery_version = ?, held = ?, alarm = ?, last_seq = ?, "
                "last_seen = CASE WHEN ? THEN ? ELSE last_seen END WHERE device_id = ?",
                (state.state, (state.at or at).isoformat(), state.gallery_version, state.held, state.alarm or None,
                 state.last_seq, live, at.isoformat(), state.device_id))

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

    def seen(self, device_ids: set[str], at: datetime) -> None:
        """Events arrived from these devices: they are alive now (written at most every 5 s per device:
        a durable write per ingest batch would cost more than the batch)."""
        with self._lock:
            due = [d for d in device_ids if (at - self._seen_written.get(d, _EPOCH)).total_seconds() >= 5]
            if not due:
                return
            self._db.execute("BEGIN")
            self._db.executemany("UPDATE devices SET last_seen = ? WHERE device_id = ?",
                                 [(at.isoformat(), d) for d in due])
            self._db.execute("COMMIT")
            self._seen_written.update(dict.fromkeys(due, at))

    def mark_all_offline(self, reason_at: datetime) -> int:
        """The broker connection was lost: nobody can be known to be online any more."""
        with self._lock:
            return self._db.execute("UPDATE devices SET state = 'unknown', state_at = ? WHERE state = 'online'",
                                    (reason_at.isoformat(),)).rowcount

    def online_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM devices WHERE state = 'online' AND revoked_at IS NULL"
                                    ).fetchone()[0]

    def all(self) -> list[Device]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, public_key, opd, site, revoked_at IS NOT NULL, state, last_seen, outbox_depth, "
                "gallery_version, gps_state, box_key, held, alarm, last_seq FROM devices ORDER BY device_id"
            ).fetchall()
        return [Device(*r[:4], bool(r[4]), *r[5:]) for r in rows]
