"""Field mode pieces without services: GPS judged on what the receiver reports, the clock before a fix,
hub-signed assignments kept on the device, the head-turn challenge, and a check-in session on video."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from edge.agent import EdgeAgent
from edge.capture.opencv_source import OpenCvSource
from edge.clock import ClockGuard
from edge.decide.visits import DecisionPolicy, VisitDecider
from edge.field.assignments import AssignmentBook
from edge.field.challenge import ChallengeState, FaceSample, TurnChallenge, head_yaw, random_challenge
from edge.field.session import CheckinSession, Phase
from edge.gps.reader import FixLimits, assess
from edge.outbox.store import Outbox
from hadir.contract import (
    AssignedDuty,
    AssignedPerson,
    AssignedSite,
    Assignments,
    AttendanceEvent,
    Channel,
    ClockSource,
    ContractError,
    EventKind,
    GpsFix,
    parse,
    topic,
)
from hadir.signing import new_key, sign_message
from testkit.walkpast import Scene, Visit, render

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)  # 10:00 WIT
TPV = {"class": "TPV", "mode": 3, "lat": -3.6954, "lon": 128.1814, "eph": 17.1, "time": NOW}


# ------------------------------------------------------------------------------------------ GPS honesty


def test_a_fix_without_satellite_reports_is_used_and_says_what_was_missing():
    # A GGA+GSA+RMC receiver (no GSV): gpsd sends TPV only, no SKY. Before, this 3-D fix was refused.
    status = assess(TPV, None, FixLimits())
    assert status.state == "3d" and status.fix is not None
    assert status.fix.sats_used is None and status.fix.eph_m == 17.1
    assert status.fix.missing == ["sats_used", "hdop"]


@pytest.mark.parametrize(("tpv", "sky", "why"), [
    (TPV, {"uSat": 3, "hdop": 1.0}, "3 satellites used"),
    (TPV, {"satellites": [{"used": True}] * 2 + [{"used": False}] * 6}, "2 satellites used"),
    (TPV, {"uSat": 9, "hdop": 7.5}, "HDOP 7.5"),
    ({**TPV, "eph": 120.0}, None, "horizontal error 120 m"),
])
def test_a_figure_the_receiver_does_report_must_be_within_the_limits(tpv, sky, why):
    status = assess(tpv, sky, FixLimits())
    assert status.fix is None and status.state == "3d" and why in status.refused


def test_a_complete_fix_lists_nothing_missing_and_no_fix_is_no_fix():
    good = assess(TPV, {"satellites": [{"used": True}] * 8, "hdop": 0.9}, FixLimits())
    assert good.fix.sats_used == 8 and good.fix.missing == [] and good.sats_seen == 8
    assert assess({**TPV, "mode": 1}, None, FixLimits()).state == "no_fix"
    assert assess(None, None, FixLimits()).fix is None
    assert assess(TPV, None, FixLimits(), connected=False).state == "absent"


def test_missing_figures_leave_older_events_bytes_alone():
    # 'missing' is left out of the JSON when empty, so an event signed before the field existed verifies.
    fix = GpsFix(lat=-3.7, lon=128.2, mode=3, sats_used=8, hdop=0.9)
    assert "missing" not in fix.model_dump_json()
    partial = GpsFix(lat=-3.7, lon=128.2, mode=3, sats_used=None, missing=["sats_used"])
    assert GpsFix.model_validate_json(partial.model_dump_json()) == partial


# ----------------------------------------------------------------------------------------------- clock


def test_an_event_before_any_fix_does_not_claim_gps_time():
    guard = ClockGuard(ClockSource.GPS, synchronised=lambda: None)
    assert guard.source_for(NOW, None) is ClockSource.NTP
    fix = GpsFix(lat=-3.7, lon=128.2, mode=3, sats_used=8, gps_time=NOW - timedelta(seconds=2))
    assert guard.source_for(NOW, fix) is ClockSource.GPS
    assert guard.source_for(NOW + timedelta(seconds=30), None) is ClockSource.GPS  # the clock stays GPS-set
    unsynced = ClockGuard(ClockSource.GPS, synchronised=lambda: False)
    assert unsynced.source_for(NOW, None) is ClockSource.NONE  # no fix and no NTP: the time is not known
    far = GpsFix(lat=-3.7, lon=128.2, mode=3, sats_used=8, gps_time=NOW - timedelta(hours=3))
    assert ClockGuard(ClockSource.GPS, synchronised=lambda: None).source_for(NOW, far) is ClockSource.NTP


# ----------------------------------------------------------------------------------------- assignments


def assignments(device="pi-field-01", issued=NOW, **kw) -> Assignments:
    return Assignments(
        device_id=device, issued_at=issued, people=[AssignedPerson(nip="person06", name="Leo Wattimena")],
        sites=[AssignedSite(name="Kantor Lurah Batu Merah", lat=-3.6900, lon=128.1900, radius_m=100)],
        duty_orders=[AssignedDuty(number="ST-12/2026", nip="person06", destination="Pasar Mardika",
                                  lat=-3.6954, lon=128.1814, radius_m=150, start=date(2026, 11, 23),
                                  end=date(2026, 11, 25))], **kw)


def test_assignments_from_the_hub_are_kept_and_survive_a_restart(tmp_path):
    key = new_key()
    book = AssignmentBook(tmp_path / "assignments.json", "pi-field-01", key.public_key())
    assert book.apply(sign_message(assignments(), key))
    reopened = AssignmentBook(tmp_path / "assignments.json", "pi-field-01", key.public_key())
    assert reopened.current is not None and reopened.name_of("person06") == "Leo Wattimena"
    labels = [p.label for p in reopened.places(date(2026, 11, 24), "person06")]
    assert labels == ["Kantor Lurah Batu Merah", "Pasar Mardika"]
    assert [p.label for p in reopened.places(date(2026, 11, 26), "person06")] == ["Kantor Lurah Batu Merah"]
    assert not reopened.apply(sign_message(assignments(issued=NOW - timedelta(hours=1)), key))  # older


def test_assignments_not_signed_by_this_hub_or_for_another_device_are_refused(tmp_path):
    key, other = new_key(), new_key()
    book = AssignmentBook(tmp_path / "a.json", "pi-field-01", key.public_key())
    assert not book.apply(sign_message(assignments(), other)) and "signature" in book.refused
    assert not book.apply(sign_message(assignments(device="pi-field-02"), key)) and "pi-field-02" in book.refused
    forged = sign_message(assignments(), key).model_copy(update={"sites": []})
    assert not book.apply(forged)
    assert not AssignmentBook(tmp_path / "b.json", "pi-field-01", None).apply(sign_message(assignments(), key))
    assert not (tmp_path / "a.json").exists()


def test_assignments_travel_on_their_own_downlink_channel():
    msg = sign_message(assignments(), new_key())
    name = topic("pi-field-01", Channel.ASSIGNMENTS)
    assert name.endswith("/down/assignments")
    _, channel, parsed = parse(name, msg.model_dump_json().encode(), "down")
    assert channel is Channel.ASSIGNMENTS and parsed == msg
    with pytest.raises(ContractError) as err:
        parse(name, b"{" + b" " * (1024 * 1024 + 1) + b"}", "down")
    assert err.value.reason == "oversize"


# -------------------------------------------------------------------------------------------- challenge


def keypoints(yaw: float, scale: float = 60.0, centre=(320.0, 240.0), angle: float = 0.0) -> np.ndarray:
    """BlazeFace-like keypoints of a face turned so the nose sits `yaw` eye distances off centre."""
    pts = np.array([[-0.5, 0], [0.5, 0], [yaw, 0.45], [yaw * 0.8, 0.8], [-1.0, 0.1], [1.0, 0.1]])
    c, s = np.cos(angle), np.sin(angle)
    return (pts @ np.array([[c, s], [-s, c]])) * scale + np.asarray(centre)


def sample(t: float, kp: np.ndarray) -> FaceSample:
    box = np.array([kp[:, 0].min(), kp[:, 1].min(), kp[:, 0].max(), kp[:, 1].max()])
    return FaceSample(t, np.zeros((480, 640, 3), np.uint8), box, kp)


def test_turning_to_the_asked_side_passes_and_the_other_side_does_not():
    right = TurnChallenge("right")
    seq = [0.0, 0.01, -0.03, -0.2, -0.05, -0.15, -0.2]  # nose to image left: the person turns to their right
    outcomes = [right.feed(sample(i * 0.1, keypoints(y))) for i, y in enumerate(seq)]
    # One turned frame alone (a misplaced keypoint) is not enough; two in a row are.
    assert outcomes[-1] is ChallengeState.PASSED and ChallengeState.PASSED not in outcomes[:-1]
    live = right.liveness()
    assert live.method == "active-turn_right-geometry" and live.passed and live.score > 0.5
    left = TurnChallenge("left", timeout_s=1.0)
    outcomes = [left.feed(sample(i * 0.1, keypoints(y))) for i, y in enumerate(seq + [-0.2] * 10)]
    assert outcomes[-1] is ChallengeState.TIMEOUT and not left.liveness().passed


def test_a_flat_photo_moved_tilted_or_scaled_never_passes_a_turn():
    # Moving, scaling or rotating a printed face keeps the nose where it is relative to the eyes.
    for direction in ("left", "right"):
        check = TurnChallenge(direction, timeout_s=3.0)
        rng = np.random.default_rng(3)
        for i in range(40):
            kp = keypoints(0.02, scale=40 + i, centre=(300 + 3 * i, 240 - i), angle=0.3 * np.sin(i / 4))
            outcome = check.feed(sample(i * 0.1, kp + rng.normal(0, 0.3, kp.shape)))
        assert outcome is ChallengeState.TIMEOUT


def test_challenges_are_drawn_from_the_configured_pool():
    rng = random.Random(1)
    kinds = {random_challenge(["turn_left", "turn_right"], rng, checks="geometry_only").kind for _ in range(30)}
    assert kinds == {"turn_left", "turn_right"}
    assert random_challenge(["blink"], rng, checks="geometry_only").needs_mesh
    with pytest.raises(ValueError):
        random_challenge(["smile"], rng, checks="geometry_only")
    with pytest.raises(ValueError):  # the measured checks cannot run without their cue models
        random_challenge(["blink"], rng)


# ------------------------------------------------------------------------------- a check-in on a video


@pytest.fixture(scope="module")
def turning_video(tmp_path_factory, faces, pipeline):
    """person06 facing the camera, turning to their right, and back (two real photos of the person)."""
    front, turned = faces / "person06" / "img35.jpg", faces / "person06" / "img34.jpg"
    assert head_yaw(pipeline.detect(__import__("cv2").imread(str(turned))[:, :, ::-1].copy())[0].keypoints) < -0.1
    visit = Visit(photos=[front] * 4 + [turned] * 2 + [front] * 2, frames=48, start_x=0.5, end_x=0.5, y=0.5,
                  start_face=0.32, end_face=0.32, gap_after=0, photo_every=6)
    return render(Scene(visits=[visit], fps=12.0), tmp_path_factory.mktemp("video") / "turn.avi",
                  pipeline.detectors[0])


def run_session(video, pipeline, gallery, tmp_path, challenge) -> tuple[CheckinSession, AttendanceEvent | None]:
    outbox = Outbox(tmp_path / "outbox.sqlite", min_free_mb=1, alarm_free_mb=2)
    decider = VisitDecider(gallery, DecisionPolicy(accept=0.92, unknown_below=0.915), pipeline.model_id)
    agent = EdgeAgent("pi-field-01", pipeline, decider, outbox, new_key(), kind=EventKind.FIELD_CHECKIN)
    source = OpenCvSource(str(video), start_at=NOW)
    session = CheckinSession(agent, challenge, face_timeout_s=10, started_at=NOW.timestamp())
    for frame in source.frames():
        result = session.step(frame, pipeline.detect(frame.rgb))
        if result:
            break
    source.close()
    outbox.close()
    return session, session.result.event if session.result else None


def test_a_check_in_recognises_then_asks_for_the_turn_on_the_same_face(turning_video, pipeline, demo_gallery,
                                                                       tmp_path):
    session, event = run_session(turning_video, pipeline, demo_gallery, tmp_path, TurnChallenge("right"))
    assert session.phase is Phase.DONE and session.result.outcome == "recorded"
    assert event.employee_id == "person06" and event.kind is EventKind.FIELD_CHECKIN
    assert event.liveness.method == "active-turn_right-geometry" and event.liveness.passed


def test_a_check_in_whose_challenge_is_not_done_is_recorded_as_not_live(turning_video, pipeline, demo_gallery,
                                                                       tmp_path):
    session, event = run_session(turning_video, pipeline, demo_gallery, tmp_path,
                                 TurnChallenge("left", timeout_s=2.5))
    assert session.result.outcome == "recorded" and session.result.challenge_passed is False
    assert event.employee_id == "person06" and not event.liveness.passed  # recorded, for review at the hub
    assert "TANPA bukti keaktifan" in session.result.message


# ------------------------------------------------------------------------------------------- the page


class FakeStation:
    """Only what the page server calls; the real station needs a camera and models."""

    def __init__(self):
        self.started = 0

    def status(self) -> dict:
        return {"device_id": "pi-field-01"}

    def preview_jpeg(self) -> bytes | None:
        return None

    def start_checkin(self) -> bool:
        self.started += 1
        return self.started == 1

    def cancel(self) -> None:
        pass


def test_the_page_answers_on_loopback_only_and_refuses_foreign_host_names():
    import http.client

    from edge.field.server import FieldServer

    station = FakeStation()
    server = FieldServer(station, 0).start()  # type: ignore[arg-type]
    try:
        def call(method: str, path: str, host: str | None = None) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request(method, path, headers={"Host": host} if host else {})
            resp = conn.getresponse()
            return resp.status, resp.read()

        status, body = call("GET", "/")
        assert status == 200 and b"MULAI PRESENSI" in body and b'lang="id"' in body
        assert call("GET", "/api/status") == (200, b'{"device_id": "pi-field-01"}')
        assert call("GET", "/api/preview.jpg")[0] == 503  # no camera frame yet
        assert call("POST", "/api/checkin")[0] == 200 and call("POST", "/api/checkin")[0] == 409
        # DNS rebinding: a page elsewhere whose name resolves to 127.0.0.1 must not drive the device.
        assert call("POST", "/api/checkin", host="evil.example:80")[0] == 403
        assert call("GET", "/api/status", host=f"evil.example:{server.port}")[0] == 403
        assert station.started == 2
        assert server.httpd.server_address[0] == "127.0.0.1"
    finally:
        server.stop()


def test_the_default_measured_check_refuses_a_montage_of_photos(turning_video, pipeline, demo_gallery, tmp_path):
    """The same rendered video that the geometry-only turn accepts: the measured check (texture cue) says
    it is not a live face, and the check-in is recorded as not live, for review."""
    from edge.infer.cues import CueMeter

    challenge = random_challenge(["turn_right"], random.Random(0), 10.0, "measured", CueMeter(1))
    session, event = run_session(turning_video, pipeline, demo_gallery, tmp_path, challenge)
    assert event is not None and event.employee_id == "person06"
    assert event.liveness.method == "active-turn_right" and not event.liveness.passed
    assert event.liveness.result == "spoof" and session.result.challenge_passed is False
