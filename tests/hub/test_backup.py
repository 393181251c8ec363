"""Backup and restore drill: everything back in fresh stores, chains intact, damage and mixing refused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from helpers import chain

from hadir.signing import new_key, public_key_b64
from hub.audit import verify_chain
from hub.backup import BackupError, backup, check, restore
from hub.config import HubSettings, Influx
from hub.master import Employee, MasterData, Opd
from hub.registry import DeviceRegistry
from hub.service import hub_public_key_path, open_store, scrape_token
from hub.store.base import StoredEvent

RECEIVED = datetime(2026, 11, 24, tzinfo=timezone.utc)


def _hub_with_history(data_dir, n=25):
    settings = HubSettings(data_dir=data_dir)
    hub_public_key_path(data_dir)  # the hub's identity, made at its first start
    key = new_key()
    DeviceRegistry.in_dir(data_dir).register("pi-dinkes-01", public_key_b64(key), opd="DINKES")
    master = MasterData(settings.master_db)
    master.add("t", Opd(code="DINKES", name="Dinas Kesehatan"))
    master.add("t", Employee(nip="1987001", name="Budi", opd_code="DINKES", tpp_base=1))
    store = open_store(settings)
    store.put([StoredEvent(e, RECEIVED, ("gps_missing",) if e.seq == 3 else ()) for e in chain("pi-dinkes-01", key, n)])
    return settings, store


def test_backup_then_restore_into_fresh_stores_keeps_every_event_and_the_chain(tmp_path):
    settings, store = _hub_with_history(tmp_path / "hub")
    ca = tmp_path / "ca"
    ca.mkdir()
    (ca / "ca.crt").write_text("cert")
    report = backup(settings, store, tmp_path / "backup", ca_dir=ca)
    assert report.events == 25 and "sqlite/devices.sqlite" in report.files and "sqlite/master.sqlite" in report.files
    assert not any("templates.key" in f for f in report.files)

    fresh = HubSettings(data_dir=tmp_path / "restored")
    fresh_store = open_store(fresh)
    assert restore(fresh, fresh_store, tmp_path / "backup", ca_dir=tmp_path / "ca2") == 25
    assert fresh_store.count() == 25 and fresh_store.get("pi-dinkes-01:3").flags == ("gps_missing",)
    assert verify_chain(fresh_store, DeviceRegistry.in_dir(fresh.data_dir), "pi-dinkes-01").intact
    assert MasterData(fresh.master_db).employee("1987001").name == "Budi"
    assert (tmp_path / "ca2" / "ca.crt").read_text() == "cert"


def test_backup_of_a_folder_that_is_no_hub_is_refused(tmp_path):
    """The wrong (or default) data folder: no hub key, registry or master data. Not an empty 'success'."""
    settings = HubSettings(data_dir=tmp_path / "not-a-hub")
    store = open_store(settings)
    try:
        with pytest.raises(BackupError, match="hub_signing.key, devices.sqlite, master.sqlite"):
            backup(settings, store, tmp_path / "backup")
    finally:
        store.close()
    assert not (tmp_path / "backup").exists()


def test_the_restored_hub_keeps_its_identity_so_field_devices_and_prometheus_still_trust_it(tmp_path):
    settings, store = _hub_with_history(tmp_path / "hub", n=2)
    hub_pub, token = hub_public_key_path(settings.data_dir).read_text(), scrape_token(settings.data_dir)
    report = backup(settings, store, tmp_path / "backup")
    assert {"keys/hub_signing.key", "keys/hub.pub", "keys/metrics.token"} <= set(report.files)
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700  # personal data and the hub's key
    fresh = HubSettings(data_dir=tmp_path / "restored")
    restore(fresh, open_store(fresh), tmp_path / "backup")
    # Neither is made anew: the same hub.pub the field devices' bundles carry, the same scrape credential.
    assert hub_public_key_path(fresh.data_dir).read_text() == hub_pub and scrape_token(fresh.data_dir) == token
    assert (fresh.data_dir / "hub_signing.key").read_bytes() == (settings.data_dir / "hub_signing.key").read_bytes()
    assert (fresh.data_dir / "hub_signing.key").stat().st_mode & 0o777 == 0o600
    # A data folder where a hub already made its own key is not fresh: refused before anything is written.
    other = HubSettings(data_dir=tmp_path / "other")
    hub_public_key_path(other.data_dir)
    with pytest.raises(BackupError, match="hub.pub exists: restore into an empty data folder"):
        restore(other, open_store(other), tmp_path / "backup")
    assert not (other.data_dir / "master.sqlite").exists() and open_store(other).count() == 0


def test_a_damaged_backup_and_a_restore_over_existing_data_are_refused(tmp_path):
    settings, store = _hub_with_history(tmp_path / "hub", n=3)
    backup(settings, store, tmp_path / "b")
    with pytest.raises(BackupError, match="not empty"):
        backup(settings, store, tmp_path / "b")
    with pytest.raises(BackupError, match="already holds 3 events"):
        restore(settings, store, tmp_path / "b")
    lines = (tmp_path / "b" / "events.jsonl").read_text().splitlines()
    (tmp_path / "b" / "events.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # an event deleted
    with pytest.raises(BackupError, match="events.jsonl does not match its checksum"):
        check(tmp_path / "b")


def test_the_template_key_lives_outside_the_data_folder_by_default(tmp_path):
    settings = HubSettings(data_dir=tmp_path / "hub")
    assert settings.template_key_path == tmp_path / "hub-keys" / "templates.key"
    assert not settings.template_key_path.is_relative_to(settings.data_dir)


@pytest.mark.integration
def test_restore_drill_from_the_sqlite_store_into_influxdb_with_the_cli(tmp_path, influxdb):
    settings, store = _hub_with_history(tmp_path / "hub", n=40)
    store.close()
    env = {"PATH": "", "HADIR_HUB_DATA_DIR": str(settings.data_dir)}
    made = subprocess.run([sys.executable, "-m", "hub.cli", "backup", str(tmp_path / "b")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["events"] == 40
    db = f"restore{time.monotonic_ns()}"
    env2 = {"PATH": "", "HADIR_HUB_DATA_DIR": str(tmp_path / "fresh"), "HADIR_HUB_STORE": "influx",
            "HADIR_HUB_INFLUX__URL": influxdb.extra["url"], "HADIR_HUB_INFLUX__DATABASE": db}
    done = subprocess.run([sys.executable, "-m", "hub.cli", "restore", str(tmp_path / "b")], env=env2,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Restored 40 events into influx" in done.stdout and "intact" in done.stdout
    influx = open_store(HubSettings(data_dir=tmp_path / "fresh", store="influx",
                                    influx=Influx(url=influxdb.extra["url"], database=db)))
    assert influx.count() == 40
