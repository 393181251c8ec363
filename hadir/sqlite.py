"""One way to open the small SQLite files both sides keep (outbox, event store, registry, quarantine)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path | str, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """WAL mode, autocommit (explicit BEGIN where a transaction matters), usable from several threads
    (callers serialise with their own lock). synchronous=FULL where a commit must survive a power cut."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # timeout: several hub processes may write the same file; wait for the lock instead of failing.
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db
