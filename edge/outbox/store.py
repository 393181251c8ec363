"""The device's durable outbox: every event stays on disk until the hub says it is stored.

SQLite in WAL mode with synchronous=FULL, so a committed event survives a power cut. The sequence
number and the previous-event hash are assigned inside the same transaction that stores the event, so
the chain can never fork on the device, not even across a crash.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hadir.contract import GENESIS_HASH, AttendanceEvent
from hadir.sqlite import connect


class OutboxFull(RuntimeError):
    """The disk is nearly full: the agent must raise the alarm instead of silently dropping events."""


@dataclass(frozen=True)
class Pending:
    seq: int
    key: str
    payload: bytes
    attempts: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, payload BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chain (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL, last_captured_at TEXT);
"""


class Outbox:
    def __init__(self, path: Path, *, min_free_mb: float = 50.0, alarm_free_mb: float = 200.0):
        self.path = Path(path)
        self.min_free_mb, self.alarm_free_mb = min_free_mb, alarm_free_mb
        self._lock = threading.Lock()
        self._db = connect(self.path, synchronous="FULL")
        # Truncate the WAL after checkpoints, so deleting acknowledged events gives the space back.
        self._db.execute("PRAGMA journal_size_limit=1048576")
        self._db.executescript(_SCHEMA)
        # When each event was last sent: kept in memory only (after a restart everything is resent
        # anyway), so publishing never writes to a disk that may be nearly full.
        self._sent: dict[int, tuple[int, float]] = {}
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chain)")}
        if "last_captured_at" not in columns:  # outbox written by an older agent
            self._db.execute("ALTER TABLE chain ADD COLUMN last_captured_at TEXT")
        self._db.execute("INSERT OR IGNORE INTO chain (id, last_seq, last_hash) VALUES (1, 0, ?)", (GENESIS_HASH,))

    def free_mb(self) -> float:
        return shutil.disk_usage(self.path.parent).free / 1e6

    def disk_alarm(self) -> str | None:
        free = self.free_mb()
        if free < self.alarm_free_mb:
            return (f"outbox disk nearly full: {free:.0f} MB free at {self.path.parent}; "
                    f"{self.depth()} events waiting for the hub. Restore the network or free space.")
        return None

    def append(self, build: Callable[[int, str], AttendanceEvent]) -> AttendanceEvent:
        """Store a new event; `build(seq, prev_hash)` makes the signed event for the next sequence."""
        if self.free_mb() < self.min_free_mb:
            raise OutboxFull(f"only {self.free_mb():.0f} MB free at {self.path.parent}; event not recorded")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last_seq, last_hash = self._db.execute("SELECT last_seq, last_hash FROM chain").fetchone()
                event = build(last_seq + 1, last_hash)
                if event.seq != last_seq + 1 or event.prev_hash != last_hash:
                    raise ValueError("event built with the wrong sequence or previous hash")
                self._db.execute("INSERT INTO events (seq, key, payload, created_at) VALUES (?, ?, ?, ?)",
                                 (event.seq, event.key, event.to_bytes(), event.captured_at.isoformat()))
                self._db.execute("UPDATE chain SET last_seq = ?, last_hash = ?, last_captured_at = ?",
                                 (event.seq, event.event_hash(), event.captured_at.isoformat()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return event

    def pending(self, limit: int = 500, resend_after_s: float | None = None, now: float = 0.0
                ) -> list[Pending]:
        """Events not yet acknowledged, oldest first (optionally only those not sent recently)."""
        out: list[Pending] = []
        after = 0
        while len(out) < limit:
            with self._lock:
                rows = self._db.execute("SELECT seq, key, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                                        (after, max(limit, 500))).fetchall()
            if not rows:
                break
            for seq, key, payload in rows:
                attempts, last = self._sent.get(seq, (0, None))
                if resend_after_s is None or last is None or last <= now - resend_after_s:
                    out.append(Pending(seq, key, payload, attempts))
                    if len(out) == limit:
                        break
            after = rows[-1][0]
        return out

    def mark_sent(self, seqs: Iterable[int], at: float) -> None:
        with self._lock:
            for s in seqs:
                self._sent[s] = (self._sent.get(s, (0, 0.0))[0] + 1, at)

    def reset_sent(self) -> None:
        with self._lock:
            self._sent.clear()

    def acknowledge(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        with self._lock:
            cur = self._db.executemany("DELETE FROM events WHERE key = ?", [(k,) for k in keys])
            for k in keys:
                self._sent.pop(int(k.rpartition(":")[2]), None)
            return cur.rowcount

    def depth(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def holds(self, key: str) -> bool:
        """Whether the event `key` still waits for the hub's acknowledgement."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM events WHERE key = ?", (key,)).fetchone() is not None

    def last_seq(self) -> int:
        with self._lock:
            return self._db.execute("SELECT last_seq FROM chain").fetchone()[0]

    def last_captured_at(self) -> datetime | None:
        """Capture time of the newest event ever recorded (survives acknowledgement and restarts)."""
        with self._lock:
            row = self._db.execute("SELECT last_captured_at FROM chain").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
