"""Offline from a cold start: `hadir-edge run` starts with no broker, records into its outbox, and delivers
once the hub (and its broker) comes up."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from hadir.contract import seq_number
from hadir.mqtt import MqttSettings
from hadir.signing import new_key, public_key_b64, save_private_key
from hub.config import HubSettings
from hub.registry import DeviceRegistry
from hub.service import Hub, hub_public_key_path
from testkit.localservices import free_port
from testkit.walkpast import Scene, Visit, render


def outbox_seq(path: Path) -> int:
    """Events ever recorded in a device outbox, read as another process would."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            return seq_number(db.execute("SELECT last_seq FROM chain").fetchone()[0])  # without the epoch
        except sqlite3.OperationalError:
            return 0


def wait_for(predicate, timeout: float, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return None
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return None


def test_walk_past_agent_starts_without_broker_records_and_delivers_later(tmp_path, demo_gallery, pipeline, faces):
    device_id, port = "pi-offline-01", free_port()
    dev, hub_dir = tmp_path / "dev", tmp_path / "hub"
    key = new_key()
    save_private_key(key, dev / "device.key")
    demo_gallery.save(dev / "gallery.npz")
    registry = DeviceRegistry.in_dir(hub_dir)
    registry.register(device_id, public_key_b64(key))
    secret = registry.issue_broker_secret(device_id)  # the embedded broker admits registered devices only
    # The bundle carries the hub's public key (the hub makes its key pair on first start; made now here).
    shutil.copy(hub_public_key_path(hub_dir), dev / "hub.pub")
    video = render(Scene(visits=[Visit(sorted((faces / "person08").glob("*.jpg"))[2:])]), tmp_path / "v.avi",
                   pipeline.detectors[0])
    config = tmp_path / "edge.toml"
    config.write_text(f"""device_id = "{device_id}"
source = "loop:{video}"
data_dir = "{dev}"
telemetry_every_s = 1.0
[mqtt]
port = {port}
protocol = 311
username = "{device_id}"
password = "{secret}"
reconnect_max_s = 2
[recognition]
threads = 1
""")
    log = open(tmp_path / "agent.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT)
    hub = None
    try:
        # Nothing listens on the broker port: the agent must run anyway and record the person walking past.
        assert wait_for(lambda: outbox_seq(dev / "outbox.sqlite") >= 1, 120, proc), (tmp_path / "agent.log").read_text()
        assert proc.poll() is None, "the agent exited without a broker"
        hub_started = time.time()
        hub = Hub(HubSettings(data_dir=hub_dir, mqtt=MqttSettings(port=port, protocol=311))).start()
        stored = wait_for(lambda: hub.store.device_events(device_id), 60)
        assert stored, f"nothing delivered after the broker came up:\n{(tmp_path / 'agent.log').read_text()}"
        assert stored[0].event.employee_id == "person08"
        assert stored[0].event.captured_at.timestamp() < hub_started  # recorded while offline
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            log.close()
            if hub is not None:
                hub.stop()
    text = (tmp_path / "agent.log").read_text()
    assert proc.returncode == 0, text
    assert "not reachable; recording into the outbox" in text
