"""An auditor can prove a device's chain intact, or find the first event added, altered or removed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from helpers import chain

from hadir.signing import new_key, public_key_b64
from hub.audit import verify_chain
from hub.registry import DeviceRegistry
from hub.store.base import StoredEvent
from hub.store.sqlite_store import SqliteEventStore

DEV = "pi-audit-01"


@pytest.fixture
def stored(tmp_path):
    key = new_key()
    registry = DeviceRegistry.in_dir(tmp_path)
    registry.register(DEV, public_key_b64(key))
    store = SqliteEventStore(tmp_path / "events.sqlite")
    events = chain(DEV, key, 10)
    store.put([StoredEvent(e, e.captured_at) for e in events])
    yield store, registry, events, tmp_path
    store.close()


def test_an_untouched_chain_is_intact(stored):
    store, registry, events, _ = stored
    report = verify_chain(store, registry, DEV)
    assert report.intact and report.events == 10 and report.summary().endswith("(seq 1..10, 10 events)")
    # A range in the middle links to the event before it.
    sub = verify_chain(store, registry, DEV, events[3].captured_at, events[7].captured_at)
    assert sub.intact and (sub.first_seq, sub.last_seq) == (4, 7)


def test_a_deleted_event_is_found(stored):
    store, registry, _, tmp = stored
    with sqlite3.connect(tmp / "events.sqlite") as db:
        db.execute("DELETE FROM events WHERE key = ?", (f"{DEV}:6",))
    report = verify_chain(store, registry, DEV)
    assert not report.intact and report.break_seq == 6 and "missing" in report.reason


def test_an_altered_event_is_found(stored):
    store, registry, _, tmp = stored
    with sqlite3.connect(tmp / "events.sqlite") as db:
        doc = db.execute("SELECT doc FROM events WHERE key = ?", (f"{DEV}:4",)).fetchone()[0]
        db.execute("UPDATE events SET doc = ? WHERE key = ?",
                   (doc.replace('"1987001"', '"1999999"'), f"{DEV}:4"))
    report = verify_chain(store, registry, DEV)
    assert not report.intact and report.break_seq == 4 and "signature" in report.reason


def test_an_inserted_event_breaks_the_link(stored):
    store, registry, events, tmp = stored
    other = chain(DEV, new_key(), 11)[10]  # a seq-11 event not made by the device's chain
    store.put([StoredEvent(other, other.captured_at)])
    report = verify_chain(store, registry, DEV)
    assert not report.intact and report.break_seq == 11


def test_verify_chain_command_exit_codes(stored):
    store, registry, _, tmp = stored
    args = [sys.executable, "-m", "hub.cli", "verify-chain", DEV]
    env = {"HADIR_HUB_DATA_DIR": str(tmp), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with sqlite3.connect(tmp / "events.sqlite") as db:
        db.execute("DELETE FROM events WHERE key = ?", (f"{DEV}:2",))
    bad = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 1 and "BROKEN at seq 2" in bad.stdout
