"""Fleet edges: a gallery pushed before a device's first connection reaches it when it connects; a device
changes OPD without its key being retyped; provisioning makes the OPD explicit."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
from helpers import wait_for

from edge.decide.visits import DecisionPolicy, VisitDecider
from edge.gallery_sync import apply_update
from edge.infer.gallery import Gallery
from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.mqtt import MqttSettings
from hadir.photo_folders import photos_by_person
from hadir.sealed import box_public_b64, new_box_key
from hadir.signing import new_key, public_key_b64
from hub.config import HubSettings
from hub.enrolment import enrol_many, photos_from_folder
from hub.master import Employee, Opd
from hub.registry import DeviceRegistry
from hub.service import Hub

NIP = "199305172019031004"


def test_a_gallery_enrolled_before_the_device_first_connects_reaches_it_on_connect(tmp_path, mosquitto, pipeline,
                                                                                    faces, caplog):
    settings = HubSettings(data_dir=tmp_path / "hub", embedded_broker=False,
                           mqtt=MqttSettings(port=mosquitto.port, protocol=5))
    with Hub(settings) as hub:
        hub.master.add("t", Opd(code="DINKES", name="Dinas Kesehatan"))
        hub.master.add("t", Employee(nip=NIP, name="Budi", opd_code="DINKES", tpp_base=1))
        device_key, box = new_key(), new_box_key()
        hub.registry.register("pi-dinkes-01", public_key_b64(device_key), box_key_b64=box_public_b64(box),
                              opd="DINKES")
        folder = tmp_path / "foto" / NIP
        folder.mkdir(parents=True)
        for photo in photos_by_person(faces)["person08"][:2]:
            (folder / photo.name).write_bytes(photo.read_bytes())
        enrol_many(hub.enrolment, "it", photos_from_folder(tmp_path / "foto"))
        version = hub.enrolment.bump_version()
        assert hub.push_galleries() == 1  # the device is not connected: this push is not kept by anyone
        time.sleep(0.5)

        empty = Gallery(pipeline.model_id, 0, [], np.zeros((0, pipeline.embedder.dim), np.float32))
        decider = VisitDecider(empty, DecisionPolicy(), pipeline.model_id)
        outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
        with caplog.at_level("INFO"):
            link = DeviceLink(hub.mqtt.model_copy(update={"protocol": 5}), "pi-dinkes-01", outbox,
                              hub_key=hub.hub_public_key, signer=device_key,
                              on_gallery=lambda u: apply_update(u, decider, tmp_path / "gallery.npz", box)).start()
            try:
                assert wait_for(lambda: decider.gallery.version == version and len(decider.gallery) == 2, timeout=30)
                assert wait_for(lambda: hub.registry.get("pi-dinkes-01").gallery_version == version, timeout=30)
            finally:
                link.stop()
        assert any(f"gallery v{version} applied" in r.getMessage() for r in caplog.records)
        assert any("sent to pi-dinkes-01 on connect" in r.getMessage() for r in caplog.records)


def test_assign_device_moves_it_to_another_opd_and_keeps_its_key(tmp_path):
    from hub.master import MasterData, Opd

    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    for code in ("DINKES", "BKPSDM"):
        master.add("t", Opd(code=code, name=code))
    registry = DeviceRegistry.in_dir(tmp_path)
    key = public_key_b64(new_key())
    registry.register("pi-x-01", key, opd="DINKES")
    env = {"PATH": "", "HADIR_HUB_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "hub.cli", "assign-device", "pi-x-01", "--opd", "BKPSDM"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    device = registry.get("pi-x-01")
    assert device.opd == "BKPSDM" and device.public_key == key
    unknown = subprocess.run([sys.executable, "-m", "hub.cli", "assign-device", "pi-nope-01", "--opd", "DINKES"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert unknown.returncode == 2 and "not registered" in unknown.stdout
    no_opd = subprocess.run([sys.executable, "-m", "hub.cli", "assign-device", "pi-x-01", "--opd", "X"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert no_opd.returncode == 2 and "unknown OPD 'X'" in no_opd.stdout and registry.get("pi-x-01").opd == "BKPSDM"


def test_provision_needs_the_opd_or_an_explicit_all_opd(tmp_path):
    from hadir_ops.provision import CertificateAuthority

    CertificateAuthority.init(tmp_path / "ca")
    (tmp_path / "hub.pub").write_text(public_key_b64(new_key()) + "\n")  # the device must know the hub's key
    base = [sys.executable, "-m", "hadir_ops.cli", "device", "provision", "pi-x-01", "--ca-dir", str(tmp_path / "ca"),
            "--hub-key", str(tmp_path / "hub.pub")]
    refused = subprocess.run(base + ["--out", str(tmp_path / "b1")], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--opd" in refused.stdout and not (tmp_path / "b1").exists()
    ok = subprocess.run(base + ["--out", str(tmp_path / "b2"), "--opd", "DINKES"], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0 and "--opd DINKES" in ok.stdout
