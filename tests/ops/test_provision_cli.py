"""`hadir device provision` and the hub's registration commands refuse what would silently go wrong: secret
files readable by others, an existing device replaced, an unknown OPD, a hub command on the wrong folder."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography import x509
from typer.testing import CliRunner

from hadir.signing import new_key, public_key_b64
from hadir_ops.cli import app as hadir
from hub.cli import app as hadir_hub
from hub.master import AuditLog, MasterData
from hub.registry import DeviceRegistry

# Neither a config nor a data folder from the environment of whoever runs the tests.
CLEAN_ENV = {"HADIR_HUB_CONFIG": None, "HADIR_HUB_DATA_DIR": None}


def _run(app, *args: str):
    return CliRunner().invoke(app, [str(a) for a in args], env=CLEAN_ENV)


def _said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def city(tmp_path):
    """A CA and an initialised hub data folder with one OPD, as the README's steps make them."""
    data = tmp_path / "hub-data"
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{data}"\n')
    for args in (("migrate", "--config", config), ("add-opd", "DINKES", "Dinas Kesehatan", "--config", config)):
        out = _run(hadir_hub, *args)
        assert out.exit_code == 0, out.output
    out = _run(hadir, "ca", "init", "--ca-dir", tmp_path / "ca")
    assert out.exit_code == 0, out.output
    return tmp_path, data, config


def _provision(tmp_path, data, device="pi-dinkes-01", *extra):
    return _run(hadir, "device", "provision", device, "--out", tmp_path / "bundle", "--ca-dir", tmp_path / "ca",
                "--hub-data", data, "--embedded-broker", "--opd", "DINKES", *extra)


def test_every_secret_file_ends_up_0600_even_when_it_existed_with_0644(city):
    tmp_path, data, _ = city
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    secrets = ("edge.toml", "signing.key", "box.key", "device.key")
    for name in secrets:
        (bundle / name).write_text("left over from an earlier copy\n")
        (bundle / name).chmod(0o644)
    out = _provision(tmp_path, data)
    assert out.exit_code == 0, out.output
    assert 'password = "' in (bundle / "edge.toml").read_text()
    assert {name: oct(_mode(bundle / name)) for name in secrets} == {name: "0o600" for name in secrets}
    assert _mode(tmp_path / "ca" / "ca.key") == 0o600
    # broker setup: the broker's and the hub's TLS keys are shared with their service's group only (0640).
    hub_dir = tmp_path / "etc-hadir"
    hub_dir.mkdir()
    (hub_dir / "hadir-hub.key").write_text("old")
    (hub_dir / "hadir-hub.key").chmod(0o644)
    out = _run(hadir, "broker", "setup", "--host", "127.0.0.1", "--ca-dir", tmp_path / "ca",
               "--mosquitto-dir", tmp_path / "mosquitto", "--hub-dir", hub_dir)
    assert out.exit_code == 0, out.output
    for key in (hub_dir / "hadir-hub.key", tmp_path / "mosquitto" / "certs" / "broker.key"):
        assert _mode(key) & 0o077 in (0, 0o040), f"{key} is {oct(_mode(key))}"


def test_reprovisioning_an_existing_device_needs_replace_which_revokes_and_records(city):
    tmp_path, data, _ = city
    assert _provision(tmp_path, data).exit_code == 0
    old_key = DeviceRegistry.in_dir(data).get("pi-dinkes-01").public_key
    old_serial = x509.load_pem_x509_certificate((tmp_path / "bundle" / "device.crt").read_bytes()).serial_number
    again = _provision(tmp_path, data)
    assert again.exit_code == 2 and "already registered" in _said(again) and "--replace" in _said(again)
    assert DeviceRegistry.in_dir(data).get("pi-dinkes-01").public_key == old_key  # nothing replaced
    replaced = _provision(tmp_path, data, "pi-dinkes-01", "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "Replaced pi-dinkes-01: 1 old certificate(s) revoked" in _said(replaced)
    assert DeviceRegistry.in_dir(data).get("pi-dinkes-01").public_key != old_key
    crl = x509.load_pem_x509_crl((tmp_path / "ca" / "ca.crl").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(old_serial) is not None
    index = json.loads((tmp_path / "ca" / "index.json").read_text())
    assert len(index["replaced"]["pi-dinkes-01"]) == 1
    master = MasterData(f"sqlite:///{data / 'master.sqlite'}")
    assert [(a.action, a.entity_id) for a in master.list(AuditLog) if a.entity == "device"] == [
        ("replace", "pi-dinkes-01")]
    # The CA alone (no --hub-data) refuses too.
    alone = _run(hadir, "device", "provision", "pi-dinkes-01", "--out", tmp_path / "b2", "--ca-dir", tmp_path / "ca",
                 "--hub-key", data / "hub.pub", "--opd", "DINKES")
    assert alone.exit_code == 2 and "already provisioned" in _said(alone)


def test_unknown_opd_is_refused_at_provisioning_and_registration(city):
    tmp_path, data, config = city
    out = _run(hadir, "device", "provision", "pi-dinkes-02", "--out", tmp_path / "b", "--ca-dir", tmp_path / "ca",
               "--hub-data", data, "--opd", "DINKESS")
    assert out.exit_code == 2 and "unknown OPD 'DINKESS'" in _said(out) and "hadir-hub add-opd" in _said(out)
    assert not (tmp_path / "b").exists()  # refused before anything was issued
    key = public_key_b64(new_key())
    out = _run(hadir_hub, "register-device", "pi-dinkes-02", key, "--opd", "NOPE", "--config", config)
    assert out.exit_code == 2 and "unknown OPD 'NOPE' (known: DINKES)" in _said(out)
    assert DeviceRegistry.in_dir(data).get("pi-dinkes-02") is None
    out = _run(hadir_hub, "register-device", "pi-dinkes-02", key, "--opd", "DINKES", "--config", config)
    assert out.exit_code == 0, out.output
    other = _run(hadir_hub, "register-device", "pi-dinkes-02", public_key_b64(new_key()), "--config", config)
    assert other.exit_code == 2 and "--replace" in _said(other)
    assert DeviceRegistry.in_dir(data).get("pi-dinkes-02").public_key == key
    out = _run(hadir_hub, "assign-device", "pi-dinkes-02", "--opd", "NOPE", "--config", config)
    assert out.exit_code == 2 and "unknown OPD" in _said(out)


def test_device_id_error_shows_the_pattern(city):
    tmp_path, data, _ = city
    out = _run(hadir, "device", "provision", "Pi_Bad", "--out", tmp_path / "b", "--ca-dir", tmp_path / "ca",
               "--hub-key", data / "hub.pub", "--all-opd")
    assert out.exit_code == 2 and "^[a-z0-9][a-z0-9-]{2,62}$" in out.output.replace("\n", ""), out.output


def test_hub_commands_need_a_config_and_an_initialised_data_folder(city, tmp_path):
    _, data, config = city
    no_config = _run(hadir_hub, "backup", tmp_path / "backup-1")
    assert no_config.exit_code == 2 and "--config" in _said(no_config) and "HADIR_HUB_CONFIG" in _said(no_config)
    missing = _run(hadir_hub, "list-users", "--config", tmp_path / "nowhere.toml")
    assert missing.exit_code == 2 and "not found" in _said(missing) and "Traceback" not in _said(missing)
    assert not isinstance(missing.exception, FileNotFoundError)
    empty = tmp_path / "empty.toml"
    empty.write_text(f'data_dir = "{tmp_path / "no-hub-here"}"\n')
    for args in (("backup", tmp_path / "backup-2"), ("list-users",), ("verify-chain", "pi-x-01")):
        out = _run(hadir_hub, *args, "--config", empty)
        assert out.exit_code == 2 and "not an initialised hub data folder" in _said(out), (args, out.output)
    assert not (tmp_path / "backup-2").exists() and not (tmp_path / "no-hub-here").exists()
    via_env = CliRunner().invoke(hadir_hub, ["backup", str(tmp_path / "backup-3")],
                                 env={"HADIR_HUB_CONFIG": str(config), "HADIR_HUB_DATA_DIR": None})
    assert via_env.exit_code == 0 and "Backup in" in _said(via_env), via_env.output


def test_add_opd_twice_with_the_same_name_changes_nothing(city):
    _, _, config = city
    out = _run(hadir_hub, "add-opd", "DINKES", "Dinas Kesehatan", "--config", config)
    assert out.exit_code == 0 and "already exists, unchanged" in _said(out) and "renamed" not in _said(out)


def test_device_epochs_lists_problems_and_marks_them_checked(city):
    from datetime import datetime, timezone

    _, data, config = city
    epochs = DeviceRegistry.in_dir(data).epochs
    now = datetime.now(timezone.utc)
    epochs.seen("pi-dinkes-09", 11, 11 << 32 | 1, now)
    epochs.seen("pi-dinkes-09", 12, 12 << 32 | 1, now)  # a second epoch nobody announced
    listed = _run(hadir_hub, "device-epochs", "--config", config)
    assert listed.exit_code == 0 and "pi-dinkes-09" in _said(listed) and "unannounced" in _said(listed)
    assert epochs.unannounced() == 1
    done = _run(hadir_hub, "device-epochs", "pi-dinkes-09", "--reviewed", "12", "--config", config)
    assert done.exit_code == 0 and epochs.unannounced() == 0, done.output
    unknown = _run(hadir_hub, "device-epochs", "pi-dinkes-09", "--reviewed", "99", "--config", config)
    assert unknown.exit_code == 2
