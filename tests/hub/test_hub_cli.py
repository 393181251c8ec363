"""`hadir-hub run` as a process: broker, ingest and API come up from environment settings and stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from testkit.localservices import free_port


def test_hub_run_serves_the_api_and_stops_cleanly(tmp_path):
    api_port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "HADIR_HUB_DATA_DIR": str(tmp_path), "HADIR_HUB_API_PORT": str(api_port),
           "HADIR_HUB_MQTT__PORT": str(mqtt_port)}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health == {"status": "ok", "events": 0}, proc.stdout.read() if proc.poll() is not None else health
        assert httpx.get(f"http://127.0.0.1:{api_port}/employees").status_code == 401
        with socket.create_connection(("127.0.0.1", mqtt_port), timeout=2):
            pass  # the embedded broker listens too
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Hub running" in out


def test_add_opd_and_register_device_read_the_hub_config(tmp_path):
    """The README's order: OPDs from the command line before the import; a device registered with --config."""
    from typer.testing import CliRunner

    from hadir.signing import new_key, public_key_b64
    from hub.cli import app
    from hub.master import MasterData, Opd
    from hub.registry import DeviceRegistry

    data = tmp_path / "data"
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{data}"\n')
    cli = CliRunner()
    assert cli.invoke(app, ["migrate", "--config", str(config)]).exit_code == 0  # README: migrate first
    made = cli.invoke(app, ["add-opd", "DINKES", "Dinas Kesehatn", "--config", str(config)])
    renamed = cli.invoke(app, ["add-opd", "DINKES", "Dinas Kesehatan", "--config", str(config)])
    assert made.exit_code == 0 and renamed.exit_code == 0 and "renamed" in renamed.output, made.output + renamed.output
    refused = cli.invoke(app, ["add-opd", "DINAS KESEHATAN", "Dinas Kesehatan", "--config", str(config)])
    assert refused.exit_code == 2 and "Not created" in refused.output
    master = MasterData(f"sqlite:///{data / 'master.sqlite'}")
    assert [(o.code, o.name) for o in master.list(Opd)] == [("DINKES", "Dinas Kesehatan")]
    key = public_key_b64(new_key())
    out = cli.invoke(app, ["register-device", "pi-dinkes-01", key, "--opd", "DINKES", "--config", str(config)])
    assert out.exit_code == 0, out.output
    [device] = DeviceRegistry.in_dir(data).all()
    assert (device.device_id, device.opd) == ("pi-dinkes-01", "DINKES")
