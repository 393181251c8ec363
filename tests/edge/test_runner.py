"""`hadir-edge run`'s engine from a device config: camera file -> events at the hub, liveness checked."""

from __future__ import annotations

import shutil
import time

import pytest

from edge.config import EdgeSettings, Gps, Recognition
from edge.runner import SetupError, run_device
from hadir.contract import ClockSource
from hadir.mqtt import MqttSettings
from hadir.signing import new_key, public_key_b64, save_private_key
from hub.config import HubSettings
from hub.service import Hub
from testkit.walkpast import Scene, Visit, render


def test_device_runs_from_its_config_and_the_hub_stores_its_decisions(tmp_path, demo_gallery, pipeline, faces):
    with Hub(HubSettings(data_dir=tmp_path / "hub", mqtt=MqttSettings(port=0, protocol=311))) as hub:
        key = new_key()
        save_private_key(key, tmp_path / "dev" / "device.key")
        hub.registry.register("pi-run-01", public_key_b64(key))
        shutil.copy(hub.settings.data_dir / "hub.pub", tmp_path / "dev" / "hub.pub")
        demo_gallery.save(tmp_path / "dev" / "gallery.npz")
        video = render(Scene(visits=[Visit(sorted((faces / "person08").glob("*.jpg"))[2:])]), tmp_path / "v.avi",
                       pipeline.detectors[0])
        settings = EdgeSettings(device_id="pi-run-01", source=str(video), data_dir=tmp_path / "dev",
                                clock_source=ClockSource.NTP,
                                mqtt=hub.device_mqtt("pi-run-01"), gps=Gps(mode="fixed", lat=-3.7, lon=128.2),
                                recognition=Recognition(threads=1), telemetry_every_s=0.0)
        assert run_device(settings) == 1
        stored = hub.store.device_events("pi-run-01")
        assert [s.event.employee_id for s in stored] == ["person08"]
        live = stored[0].event.liveness
        assert live.method == "passive" and live.result in ("live", "spoof", "inconclusive") and live.scores
        assert stored[0].event.gps.fixed_site
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and hub.registry.all()[0].state != "stopped":
            time.sleep(0.05)
        assert hub.registry.all()[0].state == "stopped"  # a clean stop, not the 'offline' last will
        assert hub.registry.all()[0].gps_state == "fixed_site"  # telemetry arrived
        assert hub.registry.all()[0].outbox_depth is not None


def test_missing_key_says_what_to_do(tmp_path):
    with pytest.raises(SetupError, match="hadir device provision"):
        run_device(EdgeSettings(device_id="pi-new-01", data_dir=tmp_path))


def test_run_with_a_missing_config_file_says_so_instead_of_running_on_defaults(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "edge.cli", "run", "--config", str(tmp_path / "edge.toml")],
                         capture_output=True, text=True, timeout=60)
    said = " ".join(out.stderr.split())  # rich wraps long lines
    assert out.returncode == 2 and "edge.toml not found" in said
