"""Enrolment end to end on a real broker: photos through the API -> encrypted templates -> gallery pushed to
a device, which confirms its version -> the device recognises the person -> the check-in is on today's
board; erasure removes the templates from the hub and from the device."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import numpy as np
import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from helpers import wait_for

from edge.agent import EdgeAgent
from edge.capture.opencv_source import OpenCvSource
from edge.decide.visits import DecisionPolicy, VisitDecider
from edge.gallery_sync import apply_update
from edge.infer.gallery import Gallery
from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import ClockSource
from hadir.mqtt import MqttSettings
from hadir.sealed import box_public_b64, new_box_key
from hadir.signing import new_key, public_key_b64
from hub.api.app import app_for_hub
from hub.config import HubSettings
from hub.enrolment import Template, enrol_many, photos_from_folder
from hub.master import Employee, Opd, User, hash_password
from hub.service import Hub
from testkit.walkpast import Scene, Visit, render

ANI, BUDI = "198703122010011001", "199305172019031004"


def test_enrol_push_recognise_board_and_erase(tmp_path, mosquitto, pipeline, faces):
    settings = HubSettings(data_dir=tmp_path / "hub", embedded_broker=False,
                           mqtt=MqttSettings(port=mosquitto.port, protocol=5))
    with Hub(settings) as hub:
        m = hub.master
        m.add("setup", Opd(code="DINKES", name="Dinas Kesehatan"))
        m.add("setup", Employee(nip=ANI, name="Ani", opd_code="DINKES", tpp_base=5_000_000))
        m.add("setup", Employee(nip=BUDI, name="Budi", opd_code="DINKES", tpp_base=5_000_000))
        m.add("setup", User(username="admin", password_hash=hash_password("rahasia-123"), role="admin"))
        key = new_key()
        box = new_box_key()
        hub.registry.register("pi-dinkes-01", public_key_b64(key), box_key_b64=box_public_b64(box), opd="DINKES")

        # The device starts with an empty gallery and applies what the hub pushes.
        empty = Gallery(pipeline.model_id, 0, [], np.zeros((0, pipeline.embedder.dim), np.float32))
        decider = VisitDecider(empty, DecisionPolicy(liveness_frames=6), pipeline.model_id)
        outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
        link = DeviceLink(hub.device_mqtt("pi-dinkes-01"), "pi-dinkes-01", outbox, hub_key=hub.hub_public_key,
                          on_gallery=lambda u: apply_update(u, decider, tmp_path / "gallery.npz", box)).start()

        api = TestClient(app_for_hub(hub))
        token = api.post("/auth/token", json={"username": "admin", "password": "rahasia-123"}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        # Budi from a folder of photos (what `hadir-hub enrol DIR` does), then a push through the API.
        folder = tmp_path / "foto" / BUDI
        folder.mkdir(parents=True)
        for photo in sorted((faces / "person08").glob("*.jpg"))[:2]:
            (folder / photo.name).write_bytes(photo.read_bytes())
        (folder / "rusak.jpg").write_bytes(b"bukan foto")
        reports = enrol_many(hub.enrolment, "it-staff", photos_from_folder(tmp_path / "foto"))
        assert [r.accepted for r in reports] == [True, True, False]
        hub.enrolment.bump_version()
        assert api.post("/devices/galleries/push", headers=h).json()["perangkat_diperbarui"] == 1
        # Ani through the API.
        photos = [{"name": p.name, "data_b64": base64.b64encode(p.read_bytes()).decode()}
                  for p in sorted((faces / "person01").glob("*.jpg"))[:2]]
        photos.append({"name": "rusak.jpg", "data_b64": base64.b64encode(b"bukan foto").decode()})
        r = api.post(f"/employees/{ANI}/photos", headers=h, json={"photos": photos}).json()
        assert r["diterima"] == 2 and r["laporan"][2] == {"foto": "rusak.jpg", "diterima": False,
                                                         "keterangan": "not a readable image (JPEG, PNG, HEIC, "
                                                                       "TIFF, WebP or BMP)"}
        version = r["gallery_version"]
        assert wait_for(lambda: decider.gallery.version == version and len(decider.gallery) == 4)
        # The device confirmed the version it runs; the hub stores templates encrypted, never raw.
        assert wait_for(lambda: hub.registry.all()[0].gallery_version == version)
        with m.session() as s:
            stored = s.query(Template).all()
        assert len(stored) == 4 and all(t.vector.startswith(b"gAAAAA") for t in stored)  # Fernet tokens
        plain = decider.gallery.templates[0].astype("<f4").tobytes()
        assert not any(plain[:64] in t.vector for t in stored)
        with pytest.raises(InvalidToken):
            Fernet(Fernet.generate_key()).decrypt(stored[0].vector)  # useless without the key file

        # A walk-past of Ani (photos never enrolled) -> event -> hub -> today's board.
        video = render(Scene(visits=[Visit(sorted((faces / "person01").glob("*.jpg"))[2:])]), tmp_path / "v.avi",
                       pipeline.detectors[0])
        agent = EdgeAgent("pi-dinkes-01", pipeline, decider, outbox, key, clock_source=ClockSource.NTP,
                          on_event=lambda e: link.notify())
        events = list(agent.run(OpenCvSource(str(video), start_at=datetime.now(timezone.utc)).frames()))
        assert [e.employee_id for e in events] == [ANI]
        assert link.wait_drained(20)
        board = {row["nip"]: row for row in api.get("/board/today", headers=h).json()}
        assert board[ANI]["event_terakhir"] == events[0].key and board[BUDI]["terakhir_terlihat"] is None

        # Erasure: gone from the hub and, after the push, from the device.
        r = api.delete(f"/employees/{ANI}/biometrics", headers=h).json()
        assert r["templat_dihapus"] == 2 and r["perangkat_diperbarui"] == 1
        assert wait_for(lambda: decider.gallery.version == r["gallery_version"])
        assert ANI not in decider.gallery.ids and len(decider.gallery) == 2
        assert ANI not in Gallery.load(tmp_path / "gallery.npz").ids
        assert wait_for(lambda: hub.registry.all()[0].gallery_version == r["gallery_version"])

        # Removing an employee erases their face too, on the hub and on the device.
        before = decider.gallery.version
        assert api.delete(f"/employees/{BUDI}", headers=h).status_code == 204
        assert wait_for(lambda: decider.gallery.version > before)
        assert len(decider.gallery) == 0 and hub.enrolment.count(BUDI) == 0
        link.stop()
        outbox.close()
