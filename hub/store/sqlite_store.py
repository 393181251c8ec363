"""The embedded default event store: one SQLite file, no server to run."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from hadir.sqlite import connect
from hub.store.base import Expired, PutResult, StoredEvent, StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY, device_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    employee_id TEXT, captured_at TEXT NOT NULL, received_at TEXT NOT NULL, hash TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events (captured_at);
CREATE INDEX IF NOT EXISTS events_device ON events (device_id, seq);
CREATE INDEX IF NOT EXISTS events_employee ON events (employee_id, captured_at);
"""


def _ts(value: datetime) -> str:
    # Always UTC, so that string order is time order.
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


class SqliteEventStore:
    def __init__(self, path: Path | str):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = connect(self.path, synchronous="FULL")
        self._db.executescript(_SCHEMA)

    def put(self, items: list[StoredEvent]) -> list[PutResult]:
        try:
            return self._put(items)
        except sqlite3.OperationalError as exc:  # locked, disk full, I/O: nothing decided, resent later
            raise StoreUnavailable(f"event store {self.path}: {exc}") from exc

    def _put(self, items: list[StoredEvent]) -> list[PutResult]:
        results = []
        with self._lock:
            # The check is inside the write transaction: another worker or hub process storing the same key
            # at the same moment waits for this one, then sees it (a duplicate, or a fork).
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existing = self._hashes_locked([i.key for i in items])
                rows = []
                for item in items:
                    ev = item.event
                    known = existing.get(ev.key)
                    if known is not None:
                        results.append(PutResult.DUPLICATE if known == item.hash else PutResult.FORK)
                        continue
                    existing[ev.key] = item.hash
                    rows.append((ev.key, ev.device_id, ev.seq, ev.kind.value, ev.employee_id, _ts(ev.captured_at),
                                 _ts(item.received_at), item.hash, item.to_json()))
                    results.append(PutResult.STORED)
                self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return results

    def _select(self, where: str, args: tuple) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute(f"SELECT doc FROM events WHERE {where}", args).fetchall()
        return [StoredEvent.from_json(r[0]) for r in rows]

    def get(self, key: str) -> StoredEvent | None:
        found = self._select("key = ?", (key,))
        return found[0] if found else None

    def hashes(self, keys: list[str]) -> dict[str, str]:
        with self._lock:
            return self._hashes_locked(keys)

    def _hashes_locked(self, keys: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self._db.execute(f"SELECT key, hash FROM events WHERE key IN ({marks})", chunk).fetchall())
        return out

    def between(self, start: datetime, end: datetime) -> list[StoredEvent]:
        return self._select("captured_at >= ? AND captured_at < ? ORDER BY captured_at", (_ts(start), _ts(end)))

    def device_events(self, device_id: str, start: datetime | None = None,
                      end: datetime | None = None) -> list[StoredEvent]:
        where, args = "device_id = ?", [device_id]
        if start:
            where, args = where + " AND captured_at >= ?", [*args, _ts(start)]
        if end:
            where, args = where + " AND captured_at < ?", [*args, _ts(end)]
        return self._select(where + " ORDER BY seq", tuple(args))

    def events_of(self, employee_ids: set[str], device_ids: set[str], start: datetime,
                  end: datetime) -> list[StoredEvent]:
        """Events in [start, end) of these employees, and the unknown faces seen by these devices (an OPD's
        share of the city, read through the employee index instead of every event of the period)."""
        out: list[StoredEvent] = []
        lo, hi = _ts(start), _ts(end)
        for column, values in (("employee_id", sorted(employee_ids)), ("device_id", sorted(device_ids))):
            extra = " AND employee_id IS NULL" if column == "device_id" else ""
            for i in range(0, len(values), 500):
                chunk = values[i:i + 500]
                marks = ",".join("?" * len(chunk))
                out += self._select(f"{column} IN ({marks}) AND captured_at >= ? AND captured_at < ?{extra}",
                                    (*chunk, lo, hi))
        return out

    def stored_since(self, cursor: int) -> tuple[list[StoredEvent], int]:
        """Events stored after `cursor` (by this or another hub process) and the new cursor; cursor 0 at
        first call returns nothing but the current position."""
        with self._lock:
            if cursor <= 0:
                return [], self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
            rows = self._db.execute("SELECT rowid, doc FROM events WHERE rowid > ? ORDER BY rowid LIMIT 5000",
                                    (cursor,)).fetchall()
        return [StoredEvent.from_json(doc) for _, doc in rows], (rows[-1][0] if rows else cursor)

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def devices(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT device_id FROM events ORDER BY device_id")]

    def expired(self, device_id: str, cutoff: datetime) -> Expired:
        t = _ts(cutoff)
        with self._lock:
            rows = self._db.execute("SELECT seq, hash FROM events WHERE device_id = ? AND captured_at < ? AND "
                                    "received_at < ? ORDER BY seq", (device_id, t, t)).fetchall()
            first = self._db.execute("SELECT MIN(seq) FROM events WHERE device_id = ? AND (captured_at >= ? OR "
                                     "received_at >= ?)", (device_id, t, t)).fetchone()[0]
        return Expired([(seq, digest) for seq, digest in rows], first)

    def delete_through(self, device_id: str, seq: int) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM events WHERE device_id = ? AND seq <= ?", (device_id, seq)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
