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
from hub.service import hub_public_key_path
from hub.store.base import StoredEvent
from hub.store.sqlite_store import SqliteEventStore

DEV = "pi-audit-01"


@pytest.fixture
def stored(tmp_path):
    key = new_key()
    hub_public_key_path(tmp_path)  # an initialised hub data folder, as the CLI requires
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


def test_a_gap_the_device_reported_is_shown_as_such_and_an_unreported_one_still_breaks(stored):
    from datetime import datetime, timezone

    from hadir.contract import OutboxReport

    store, registry, _, _ = stored
    with sqlite3.connect(stored[3] / "events.sqlite") as db:
        db.executemany("DELETE FROM events WHERE key = ?", [(f"{DEV}:{n}",) for n in (4, 5, 6)])
    assert verify_chain(store, registry, DEV).break_seq == 4  # before the device says anything: a break
    report = OutboxReport(key=f"{DEV}:epoch:7", device_id=DEV, epoch=7, reason="outbox_rolled_back",
                          at=datetime.now(timezone.utc), lost_epoch=0, lost_from=4, lost_to=6)
    registry.epochs.record_report(report, datetime.now(timezone.utc), store)
    found = verify_chain(store, registry, DEV)
    assert (found.status, found.intact, found.break_seq) == ("gap reported by device", False, None)
    assert "seq 4..6, 3 events not at the hub" in found.summary(), found.summary()
    with sqlite3.connect(stored[3] / "events.sqlite") as db:
        db.execute("DELETE FROM events WHERE key = ?", (f"{DEV}:9",))
    broken = verify_chain(store, registry, DEV)
    assert broken.status == "BROKEN" and broken.break_seq == 9 and "gap reported by device" in broken.summary()
