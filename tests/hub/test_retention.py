"""Retention deletes exactly what is past its period, nothing else, audits each run, and keeps chains verifiable."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time as clock
from datetime import date, datetime, timedelta, timezone

import pytest
from helpers import event
from sqlalchemy import select

import hub.enrolment  # noqa: F401 - registers the template table before MasterData creates the schema
import hub.retention as retention_module
from hadir.contract import GENESIS_HASH
from hadir.signing import new_key, public_key_b64
from hadir.wit import WIT
from hub.audit import verify_chain
from hub.config import Influx, Retention
from hub.enrolment import GalleryVersion, Template
from hub.ingest.gps_checks import GpsHistory
from hub.ingest.quarantine import Quarantine
from hub.master import AuditLog, Employee, MasterData, Opd
from hub.registry import DeviceRegistry
from hub.retention import Cutoffs, DailyRetention, RetentionJob, RetentionReport, seconds_until
from hub.store.base import StoredEvent

NOW = datetime(2026, 11, 24, 2, 30, tzinfo=WIT)
PERIODS = Retention(events_days=730, quarantine_days=90, gps_history_days=90, logs_days=365,
                    templates_after_leaving_days=30)
CUT = Cutoffs.at(PERIODS, NOW)
TICK = timedelta(microseconds=1000)  # InfluxDB keeps milliseconds: stay a whole millisecond off each boundary


def test_cutoffs_are_midnight_wit_of_the_day_the_period_began():
    assert CUT.events == datetime(2024, 11, 24, tzinfo=WIT)  # 730 days before 24 Nov 2026
    assert CUT.quarantine == CUT.gps == datetime(2026, 8, 26, tzinfo=WIT)
    assert CUT.logs == datetime(2025, 11, 24, tzinfo=WIT)
    assert CUT.left_before == date(2026, 10, 25)


def test_seconds_until_the_next_daily_run():
    assert seconds_until("02:30", datetime(2026, 11, 24, 2, 0, tzinfo=WIT)) == 1800
    assert seconds_until("02:30", datetime(2026, 11, 24, 2, 30, tzinfo=WIT)) == 24 * 3600
    assert seconds_until("02:30", datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)) == 9.5 * 3600


class City:
    """Events of four devices around the events cutoff, with what must stay computed from the definitions."""

    def __init__(self, store, registry: DeviceRegistry):
        self.store, self.registry, self.keys = store, registry, {}
        old, new = CUT.events - TICK, CUT.events
        # (device, [(captured_at, received_at)]) in sequence order.
        plan = {
            # Ordinary terminal: a year of old events, then the boundary itself (kept), then recent ones.
            "pi-old-01": [(old - timedelta(days=400), old - timedelta(days=400)), (old - timedelta(days=1), old),
                          (old, old), (new, new), (new + timedelta(days=30), new + timedelta(days=30))],
            # Only recent events: nothing goes.
            "pi-new-02": [(new + timedelta(days=1), new + timedelta(days=1))] * 3,
            # A clock that ran days ahead for seq 2, then fell behind: seq 2 is not past its period (its capture
            # time is not), so the old seq 3 after it stays with the chain; seq 3 is also older than seq 1,
            # which InfluxDB must then delete point by point, not as a time range.
            "pi-clock-03": [(old - timedelta(days=1), old - timedelta(days=1)),
                            (new + timedelta(days=5), old - timedelta(hours=20)),
                            (old - timedelta(days=2), old - timedelta(hours=12))],
            # Offline for years: captured long ago but received after the cutoff, so its period has not run out.
            "pi-late-04": [(old - timedelta(days=100), new + timedelta(days=1)), (old, new + timedelta(days=1))],
        }
        self.expected_gone: set[str] = set()
        for device, stamps in plan.items():
            key = new_key()
            registry.register(device, public_key_b64(key))
            prev, items = GENESIS_HASH, []
            for seq, (captured, received) in enumerate(stamps, start=1):
                ev = event(device, seq, prev, key, at=captured)
                prev = ev.event_hash()
                items.append(StoredEvent(ev, received))
            store.put(items)
        self.expected_gone = {"pi-old-01:1", "pi-old-01:2", "pi-old-01:3", "pi-clock-03:1"}
        self.all_keys = {f"{d}:{i}" for d, s in plan.items() for i in range(1, len(s) + 1)}

    def keys_left(self) -> set[str]:
        return {f"{d}:{s.event.seq}" for d in self.store.devices() for s in self.store.device_events(d)}


@pytest.fixture
def sqlite_store(tmp_path):
    from hub.store.sqlite_store import SqliteEventStore

    store = SqliteEventStore(tmp_path / "events.sqlite")
    yield store
    store.close()


@pytest.fixture
def influx_store(influxdb):
    from hub.store.influx_store import InfluxEventStore

    i = Influx(url=influxdb.extra["url"])
    store = InfluxEventStore(i.url, f"r{clock.monotonic_ns()}", i.username, i.password)
    yield store
    store.close()


def job_for(tmp_path, store) -> tuple[RetentionJob, DeviceRegistry, MasterData, Quarantine, GpsHistory]:
    registry = DeviceRegistry.in_dir(tmp_path)
    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    quarantine, gps = Quarantine(tmp_path / "quarantine.sqlite"), GpsHistory(tmp_path / "gps.sqlite")
    return RetentionJob(PERIODS, store, registry, quarantine, gps, master), registry, master, quarantine, gps


@pytest.mark.parametrize("store_name", ["sqlite_store", "influx_store"])
def test_exactly_the_events_past_their_period_go_and_the_chains_still_verify(tmp_path, request, store_name):
    store = request.getfixturevalue(store_name)
    job, registry, master, _, _ = job_for(tmp_path, store)
    city = City(store, registry)

    dry = job.run(NOW, dry_run=True)
    assert city.keys_left() == city.all_keys, "a dry run deletes nothing"
    assert registry.chain_anchor("pi-old-01") is None
    assert not list(master.list(AuditLog, entity="retention_run"))

    report = job.run(NOW)
    assert city.keys_left() == city.all_keys - city.expected_gone
    assert report.events == dry.events == 4
    assert {d.device_id: (d.events, d.through_seq) for d in report.devices} == {"pi-old-01": (3, 3),
                                                                                  "pi-clock-03": (1, 1)}
    assert report.kept_for_chain == {"pi-clock-03": 1}
    # The last deleted event of each cut chain is its anchor, and the audit row names it.
    anchor = registry.chain_anchor("pi-old-01")
    assert anchor.seq == 3
    audit = master.list(AuditLog, entity="retention_run")[0]
    assert audit.actor == "retention" and audit.detail["devices"]["pi-old-01"] == {
        "events": 3, "through_seq": 3, "last_hash": anchor.hash}
    for device in ("pi-old-01", "pi-new-02", "pi-clock-03", "pi-late-04"):
        chain = verify_chain(store, registry, device)
        assert chain.intact, chain.summary()
    assert "retention cut at seq 3" in verify_chain(store, registry, "pi-old-01").summary()

    # Running again the same day finds nothing more.
    again = job.run(NOW)
    assert again.events == 0 and city.keys_left() == city.all_keys - city.expected_gone


def test_removing_the_first_kept_event_is_still_a_break(tmp_path, sqlite_store):
    job, registry, _, _, _ = job_for(tmp_path, sqlite_store)
    City(sqlite_store, registry)
    job.run(NOW)
    with sqlite3.connect(sqlite_store.path) as db:
        db.execute("DELETE FROM events WHERE key = 'pi-old-01:4'")
    report = verify_chain(sqlite_store, registry, "pi-old-01")
    assert not report.intact and report.break_seq == 4 and "retention deleted the chain up to seq 3" in report.reason
    # Without any retention run, a chain that does not start at seq 1 is missing its start.
    with sqlite3.connect(sqlite_store.path) as db:
        db.execute("DELETE FROM events WHERE key = 'pi-new-02:1'")
    assert verify_chain(sqlite_store, registry, "pi-new-02").break_seq == 1


def test_quarantine_gps_fixes_logs_and_templates_of_leavers(tmp_path, sqlite_store):
    job, _, master, quarantine, gps = job_for(tmp_path, sqlite_store)
    for at in (CUT.quarantine - TICK, CUT.quarantine - timedelta(days=40), CUT.quarantine, NOW):
        quarantine.add("absensi/v1/x/up/event", b"{}", "bad_signature", at.isoformat(), at.astimezone(timezone.utc))
    with sqlite3.connect(tmp_path / "gps.sqlite") as db:
        for seq, at in enumerate((CUT.gps - TICK, CUT.gps, NOW), start=1):
            db.execute("INSERT INTO fixes VALUES (1, 1, 'hh-field-01', '', ?, ?)",
                       (seq, at.astimezone(timezone.utc).isoformat()))
    master.add("test", Opd(code="DLH", name="Dinas Lingkungan Hidup"))
    people = {"left-long-ago": CUT.left_before - timedelta(days=1), "left-recently": CUT.left_before,
              "still-here": None, "leaves-next-month": date(2026, 12, 31)}
    for nip, end in {**people, "removed": None}.items():
        if nip != "removed":  # templates left behind by an employee deleted from the master data
            master.add("test", Employee(nip=nip, name=nip, opd_code="DLH", end=end))
        with master.session() as s:
            for n in range(3):
                s.add(Template(nip=nip, model_id="m", vector=b"x", quality=1.0, source=f"{n}.jpg",
                               created_at=NOW - timedelta(days=900)))
    with master.session() as s:
        for at in (CUT.logs - TICK, CUT.logs):
            s.add(AuditLog(at=at, actor="test", action="update", entity="employee", entity_id="x", detail={}))

    dry = job.run(NOW, dry_run=True)
    report = job.run(NOW)
    assert (dry.quarantine, dry.gps_fixes, dry.templates) == (report.quarantine, report.gps_fixes, report.templates)
    assert report.quarantine == 2 and [e[2] for e in quarantine.entries()] == [
        CUT.quarantine.isoformat(), NOW.isoformat()]
    assert report.gps_fixes == 1 and gps.older_than(NOW + timedelta(days=1)) == 2
    assert report.templates == {"left-long-ago": 3, "removed": 3}
    with master.session() as s:
        left = {t.nip for t in s.scalars(select(Template))}
        assert left == {"left-recently", "still-here", "leaves-next-month"}
        assert s.get(GalleryVersion, 1).version == report.gallery_version == 1
    # The old audit row went; the one on the boundary, the template erasure and the run's own row stay.
    rows = master.list(AuditLog)
    assert report.logs == 1 and dry.logs == 1
    assert sorted(r.entity for r in rows if r.actor != "test") == ["retention_run", "template", "template"]
    assert [r.at for r in rows if r.actor == "test" and r.entity == "employee" and r.action == "update"] == [
        CUT.logs.astimezone(timezone.utc).replace(tzinfo=None)]


def test_the_command_reports_then_deletes(tmp_path, sqlite_store):
    from hub.service import hub_public_key_path

    hub_public_key_path(tmp_path)  # an initialised hub data folder, as the command requires
    registry = DeviceRegistry.in_dir(tmp_path)
    key = new_key()
    registry.register("pi-cli-01", public_key_b64(key))
    now = datetime.now(timezone.utc)
    first = event("pi-cli-01", 1, GENESIS_HASH, key, at=now - timedelta(days=800))
    second = event("pi-cli-01", 2, first.event_hash(), key, at=now)
    sqlite_store.put([StoredEvent(first, first.captured_at), StoredEvent(second, now)])
    env = {**os.environ, "HADIR_HUB_DATA_DIR": str(tmp_path)}
    args = [sys.executable, "-m", "hub.cli", "retention"]
    dry = subprocess.run([*args, "--dry-run"], capture_output=True, text=True, timeout=120, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "1 (1 devices)" in dry.stdout and sqlite_store.count() == 2
    real = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert real.returncode == 0, real.stderr
    assert "Audited" in real.stdout and sqlite_store.count() == 1
    assert verify_chain(sqlite_store, registry, "pi-cli-01").intact


def test_the_daily_run_fires_and_stops(monkeypatch):
    ran = threading.Event()
    monkeypatch.setattr(retention_module, "seconds_until", lambda run_at, now: 0.05)

    def job() -> RetentionReport:
        ran.set()
        return RetentionReport(NOW, False, CUT)

    daily = DailyRetention(job, "02:30").start()
    try:
        assert ran.wait(10)
    finally:
        daily.stop()
    assert not daily._thread.is_alive()


def test_a_backup_restored_after_retention_still_verifies(tmp_path, sqlite_store):
    from hub.backup import backup, restore
    from hub.config import HubSettings
    from hub.service import hub_public_key_path, open_store

    job, registry, _, _, _ = job_for(tmp_path, sqlite_store)
    City(sqlite_store, registry)
    job.run(NOW)
    hub_public_key_path(tmp_path)  # a hub's data folder has its key (backup refuses one without)
    backup(HubSettings(data_dir=tmp_path), sqlite_store, tmp_path / "backup")
    fresh = HubSettings(data_dir=tmp_path / "restored")
    fresh_store = open_store(fresh)
    restore(fresh, fresh_store, tmp_path / "backup")
    report = verify_chain(fresh_store, DeviceRegistry.in_dir(fresh.data_dir), "pi-old-01")
    assert report.intact and report.first_seq == 4 and "retention cut at seq 3" in report.summary()
    fresh_store.close()
