"""Every refused message is kept here, raw, with its reason: nothing that arrives is silently lost."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from hadir.sqlite import connect


class Quarantine:
    def __init__(self, path: Path | str):
        self._lock = threading.Lock()
        self._db = connect(path, synchronous="FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY, received_at TEXT, "
                         "topic TEXT, reason TEXT, detail TEXT, payload BLOB)")

    def add(self, topic: str, payload: bytes, reason: str, detail: str, at: datetime) -> None:
        with self._lock:
            self._db.execute("INSERT INTO quarantine (received_at, topic, reason, detail, payload) "
                             "VALUES (?, ?, ?, ?, ?)", (at.isoformat(), topic, reason, detail, payload[:65536]))

    def older_than(self, cutoff: datetime, *, delete: bool = False) -> int:
        """How many entries were received before `cutoff`; with delete=True, delete them (retention)."""
        verb = "DELETE" if delete else "SELECT COUNT(*)"
        with self._lock:
            cur = self._db.execute(f"{verb} FROM quarantine WHERE julianday(received_at) < julianday(?)",
                                   (cutoff.isoformat(),))
            return cur.rowcount if delete else cur.fetchone()[0]

    def entries(self) -> list[tuple[str, str, str, bytes]]:
        with self._lock:
            return self._db.execute("SELECT topic, reason, detail, payload FROM quarantine ORDER BY id").fetchall()

    def between(self, start: datetime, end: datetime) -> list[tuple[str, str, str, str]]:
        """(received_at, topic, reason, detail) of messages refused in [start, end), oldest first."""
        lo, hi = (t.astimezone(timezone.utc).isoformat() for t in (start, end))
        with self._lock:
            return self._db.execute("SELECT received_at, topic, reason, detail FROM quarantine WHERE received_at >= ? "
                                    "AND received_at < ? ORDER BY id", (lo, hi)).fetchall()
