"""Walk-past liveness over the whole track, end to end: the gate holds a decision until its track's
verdict is in; an inconclusive verdict travels in the event to the hub, is stored as such, does not count
as attendance, and is listed for review (hub/review.py, GET /review)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from fastapi.testclient import TestClient

from edge.config import EdgeSettings, Gps, Recognition
from edge.decide.liveness_gate import LivenessGate
from edge.decide.visits import Decision
from edge.infer.cues import FrameCue
from edge.infer.detect import Detection
from edge.infer.liveness import PassivePolicy
from edge.runner import run_device
from hadir.contract import AttendanceEvent, ClockSource, Liveness, canonical
from hadir.mqtt import MqttSettings
from hadir.signing import new_key, public_key_b64, save_private_key, save_public_key
from hub.api.app import app_for_hub
from hub.config import HubSettings
from hub.master import User, hash_password
from hub.payroll.punches import LIVENESS_REASONS, punches_by_employee
from hub.review import uncounted
from hub.service import Hub
from testkit.walkpast import Scene, Visit, render

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=timezone.utc)


class ReplayedCues:
    """Hands the gate prepared measurements (a talking face: texture 0.95, mouth moving) instead of
    running the models, so that the gate's timing can be checked frame by frame."""

    def __init__(self, texture: float):
        self.texture = texture
        self.base = np.random.default_rng(1).uniform(100, 300, (468, 2))

    def measure(self, rgb, box, at):
        mesh = self.base.copy()
        mesh[:100] += 6 * np.sin(at * 9)  # a part of the face moves on its own: not a flat picture
        return FrameCue(at, mesh.astype(np.float32), self.texture, None)


def decision(track_id: int, at: datetime) -> Decision:
    return Decision("person08", 0.95, 0.05, 3, 0.8, at, at, track_id)


def test_gate_holds_a_decision_until_its_verdict_and_releases_when_the_track_ends():
    det = Detection(np.array([100.0, 100, 200, 200]), np.zeros((6, 2)), 0.9)
    gate = LivenessGate(ReplayedCues(0.95), PassivePolicy(decide_after_s=1.0, max_wait_s=3.0))  # type: ignore[arg-type]
    frame = np.zeros((8, 8, 3), np.uint8)
    released = []
    for i in range(40):  # 25 fps
        at = T0 + timedelta(seconds=i / 25)
        gate.observe(frame, [(7, det)], at)
        released += gate.collect([decision(7, at)] if i == 3 else [], {7}, at)
        if i < 25:
            assert released == [], f"released at frame {i}, before the track was 1 s old"
    assert len(released) == 1 and released[0][1].result == "live"
    # A track that ends before its verdict is conclusive is released at once, as inconclusive.
    gate2 = LivenessGate(ReplayedCues(0.95))  # type: ignore[arg-type]
    for i in range(3):
        gate2.observe(frame, [(9, det)], T0 + timedelta(seconds=i / 25))
    out = gate2.collect([decision(9, T0)], set(), T0 + timedelta(seconds=0.1))
    assert [live.result for _, live in out] == ["inconclusive"]
    assert out[0][1].scores["frames"] == 3 and gate2.flush() == []
    # A screen: texture near 0 is a spoof, said as soon as the track is old enough.
    gate3 = LivenessGate(ReplayedCues(0.01))  # type: ignore[arg-type]
    results = []
    for i in range(30):
        at = T0 + timedelta(seconds=i / 25)
        gate3.observe(frame, [(4, det)], at)
        results += gate3.collect([decision(4, at)] if i == 0 else [], {4}, at)
    assert [live.result for _, live in results] == ["spoof"]


def test_old_events_without_a_liveness_result_keep_their_signature_bytes():
    old = {"method": "planarity", "passed": True, "score": 0.7}
    assert Liveness.model_validate(old).model_dump(mode="json") == old  # no "result": null added
    new = Liveness(method="passive", passed=False, score=0.9, result="inconclusive", scores={"texture": 0.9})
    assert b'"result":"inconclusive"' in canonical(new.model_dump(mode="json"))
    assert Liveness.model_validate(old).outcome == "live" and new.outcome == "inconclusive"


def test_an_inconclusive_liveness_result_reaches_the_hub_as_such(tmp_path, demo_gallery, pipeline, faces):
    with Hub(HubSettings(data_dir=tmp_path / "hub", mqtt=MqttSettings(port=0, protocol=311))) as hub:
        key = new_key()
        save_private_key(key, tmp_path / "dev" / "device.key")
        hub.registry.register("pi-live-01", public_key_b64(key))
        save_public_key(hub.hub_key, tmp_path / "dev" / "hub.pub")  # from the device's provisioning bundle
        demo_gallery.save(tmp_path / "dev" / "gallery.npz")
        video = render(Scene(visits=[Visit(sorted((faces / "person08").glob("*.jpg"))[2:])]), tmp_path / "v.avi",
                       pipeline.detectors[0])
        # A walk-past shorter than the device wants to judge: the verdict is inconclusive, not a failure.
        settings = EdgeSettings(device_id="pi-live-01", source=str(video), data_dir=tmp_path / "dev",
                                clock_source=ClockSource.NTP, mqtt=hub.device_mqtt("pi-live-01"),
                                gps=Gps(mode="fixed", lat=-3.7, lon=128.2),
                                recognition=Recognition(threads=1, liveness_min_seconds=10.0), telemetry_every_s=0.0)
        assert run_device(settings) == 1
        stored = hub.store.device_events("pi-live-01")
        assert len(stored) == 1
        event: AttendanceEvent = stored[0].event
        assert event.employee_id == "person08" and event.liveness.method == "passive"
        assert event.liveness.result == "inconclusive" and not event.liveness.passed
        assert event.liveness.scores["seconds"] < 10 and event.liveness.scores["frames"] >= 3
        # Not counted as attendance, with the reason a reviewer reads ...
        punch = punches_by_employee(stored)["person08"][0]
        assert not punch.valid and punch.reason == LIVENESS_REASONS["inconclusive"]
        # ... and listed for review, by the function and by the API.
        day = event.captured_at
        items = uncounted(app_for_hub(hub).state.attendance, day - timedelta(hours=1), day + timedelta(hours=1))
        assert [(i["event"], i["liveness"]["hasil"]) for i in items] == [(event.key, "inconclusive")]
        hub.master.add("setup", User(username="bkpsdm", password_hash=hash_password("rahasia-123"), role="admin",
                                     opd_code=None, nip=None))
        with TestClient(app_for_hub(hub)) as api:
            token = api.post("/auth/token", json={"username": "bkpsdm", "password": "rahasia-123"}).json()
            wit = day.astimezone(app_for_hub(hub).state.attendance.tz).date()
            r = api.get("/review", params={"start": wit.isoformat(), "end": wit.isoformat()},
                        headers={"Authorization": f"Bearer {token['access_token']}"})
            assert r.status_code == 200, r.text
            [item] = r.json()
            assert item["event"] == event.key and item["alasan"] == LIVENESS_REASONS["inconclusive"]
            assert item["liveness"]["ukuran"]["frames"] == event.liveness.scores["frames"]
