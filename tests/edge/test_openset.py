"""Open-set walk-past decisions: strangers among look-alikes, a gallery of one, small faces in wide frames."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from edge.calibrate import choose_thresholds, evidence_from_templates, visit_evidence
from edge.capture.opencv_source import OpenCvSource
from edge.decide.visits import MESSAGES, DecisionPolicy, VisitDecider
from edge.enrol import enrol, template_from_photo
from edge.infer.detect import MultiScaleDetector, windows_for
from edge.infer.embed import normalise
from edge.infer.gallery import Gallery
from edge.infer.pipeline import FacePipeline
from testkit.walkpast import Scene, Visit, render

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)
EMPLOYEES = ("person01", "person05", "person06", "person08")


def photos(faces: Path, person: str) -> list[Path]:
    return sorted((faces / person).glob("*.jpg"))


def run(pipeline: FacePipeline, gallery: Gallery, video: Path, policy: DecisionPolicy) -> tuple[list, list]:
    """Decisions and notices for a video, frame by frame as the terminal runs."""
    decider = VisitDecider(gallery, policy, pipeline.model_id)
    out, last = [], T0
    for frame in OpenCvSource(str(video), start_at=T0).frames():
        last = frame.at
        faces = [(d, pipeline.analyse_detection(frame.rgb, d) if decider.needs_embedding(d) else None)
                 for d in pipeline.detect(frame.rgb)]
        out += decider.update(faces, frame.at)
    out += decider.flush(last)
    return out, decider.take_notices()


def visit_embedding(pipeline: FacePipeline, gallery: Gallery, video: Path) -> np.ndarray:
    """The combined template the terminal's track holds for the one face in a video (never decided)."""
    decider = VisitDecider(gallery, DecisionPolicy(min_frames=10_000, track_timeout_s=1e6), pipeline.model_id)
    for frame in OpenCvSource(str(video), start_at=T0).frames():
        decider.update([(d, pipeline.analyse_detection(frame.rgb, d)) for d in pipeline.detect(frame.rgb)],
                       frame.at)
    (track,) = decider.tracks
    return track.combined()


def lookalike(target: np.ndarray, other: np.ndarray, cos: float) -> np.ndarray:
    """A template at exactly `cos` from `target`, the rest of it taken from another real face."""
    ortho = normalise(other - (other @ target) * target)
    return normalise(cos * target + np.sqrt(1 - cos**2) * ortho).astype(np.float32)


def test_stranger_among_lookalikes_is_not_accepted(pipeline, demo_gallery, faces, tmp_path):
    stranger = photos(faces, "person10")
    video = render(Scene(visits=[Visit(stranger)]), tmp_path / "stranger.avi", pipeline.detectors[0])
    visit = visit_embedding(pipeline, demo_gallery, video)
    # Enrolled look-alikes of the stranger, as close as the East-Asian men of issue #10 (0.92-0.95): the
    # closest one leads the next by more than the margin, so only the thresholds stand between them.
    ids, templates = list(demo_gallery.ids), [t for t in demo_gallery.templates]
    for i, cos in enumerate((0.95, 0.935, 0.93, 0.92)):
        other = demo_gallery.templates[i * 2]
        ids.append(f"lookalike-{i}")
        templates.append(lookalike(visit, other, cos))
    gallery = Gallery(pipeline.model_id, 2, ids, np.stack(templates))

    # The thresholds shipped before (accept 0.92, unknown below 0.915) name him as an employee...
    old, _ = run(pipeline, gallery, video, DecisionPolicy(accept=0.92, unknown_below=0.915, min_frames=3))
    assert [d.employee_id for d in old] == ["lookalike-0"]
    # ...the shipped ones do not, and the terminal says the face was not recognised instead of guessing.
    decisions, notices = run(pipeline, gallery, video, DecisionPolicy())
    assert [d.employee_id for d in decisions] == []
    assert [n.message for n in notices] == [MESSAGES["insufficient"]]
    assert notices[0].message == "Wajah belum dikenali, silakan menghadap kamera."


def test_single_enrolled_person_and_a_stranger(pipeline, faces, tmp_path):
    gallery, _ = enrol(pipeline, {"person01": photos(faces, "person01")[:2]})
    video = render(Scene(visits=[Visit(photos(faces, "person01")[2:]), Visit(photos(faces, "person10"))]),
                   tmp_path / "v.avi", pipeline.detectors[0])
    policy = DecisionPolicy(liveness_frames=6)
    decisions, _ = run(pipeline, gallery, video, policy)
    assert [d.employee_id for d in decisions] == ["person01", None]
    # With nobody to compare against, the margin is the lead over a stranger at unknown_below: not 1 + score.
    accepted = decisions[0]
    assert accepted.margin == pytest.approx(accepted.score - policy.unknown_below, abs=1e-6)
    assert 0 < accepted.margin < 1 - policy.unknown_below


def test_single_person_gallery_does_not_get_the_margin_for_free(pipeline):
    """Just above accept but within the margin of 'a stranger' (unknown_below): not named."""
    from edge.infer.gallery import Match

    policy = DecisionPolicy(accept=0.95, unknown_below=0.945, min_margin=0.01, min_frames=1)
    gallery = Gallery(pipeline.model_id, 1, ["only"], np.eye(1, 128, dtype=np.float32))
    decider = VisitDecider(gallery, policy, pipeline.model_id)
    match = gallery.search(np.eye(1, 128, dtype=np.float32)[0], pipeline.model_id)
    assert match.second_id is None  # one identity: nobody to lead
    assert not decider.accepts(Match("only", 0.951, None, -1.0), ["only"])  # lead 0.006 < 0.01
    assert decider.accepts(Match("only", 0.96, None, -1.0), ["only"])
    assert not decider.accepts(Match("only", 0.96, None, -1.0), ["only", None, None])  # frames disagree


@pytest.mark.parametrize("who", ["person05", "person10"])
def test_small_face_at_1280x720_is_decided(pipeline, demo_gallery, faces, tmp_path, who):
    """A face 40 px wide growing to 70 px, crossing a 1280x720 frame: the employee is named, the stranger is
    reported unknown."""
    visit = Visit(photos(faces, who)[2:] if who != "person10" else photos(faces, who), frames=30,
                  start_face=40 / 720, end_face=70 / 720, start_x=0.2, end_x=0.7)
    video = render(Scene(width=1280, height=720, visits=[visit]), tmp_path / "small.avi", pipeline.detectors[0])
    decisions, _ = run(pipeline, demo_gallery, video, DecisionPolicy(liveness_frames=6))
    assert [d.employee_id for d in decisions] == [None if who == "person10" else who]


def test_whole_frame_short_range_alone_misses_the_small_faces(faces, tmp_path, pipeline):
    """Why the multi-scale detector exists: the single short-range pass finds no 40-70 px face at 1280x720."""
    visit = Visit(photos(faces, "person05")[2:], frames=12, start_face=40 / 720, end_face=70 / 720)
    video = render(Scene(width=1280, height=720, visits=[visit]), tmp_path / "small.avi", pipeline.detectors[0])
    short = FacePipeline(detector="short")
    found = [len(short.detect(f.rgb)) for f in OpenCvSource(str(video), start_at=T0).frames()][:12]
    assert sum(found) == 0
    auto = MultiScaleDetector()
    assert sum(len(auto.detect(f.rgb)) > 0 for f in OpenCvSource(str(video), start_at=T0).frames()) >= 11


def test_windows_cover_the_frame_at_every_level():
    for width, height in ((640, 480), (1280, 720), (1920, 1080)):
        wins = windows_for(width, height, 40)
        assert wins[0].side == max(width, height)
        for side in {w.side for w in wins[1:]}:
            level = [w for w in wins if w.side == side]
            assert min(w.x for w in level) == 0 and max(w.x + w.side for w in level) == width
            assert min(w.y for w in level) == 0 and max(w.y + w.side for w in level) == height
        assert min(w.side for w in wins) * 0.17 <= 44  # the smallest tiles hold 40 px faces
    assert len(windows_for(250, 250, 40)) == 1  # a 250 px photo needs no tiles


def test_blurred_face_is_refused_for_enrolment_but_weighed_at_the_terminal(pipeline, faces):
    import cv2

    from edge.infer.templates import face_to_template as best_face

    photo = cv2.cvtColor(cv2.imread(str(photos(faces, "person05")[2])), cv2.COLOR_BGR2RGB)
    kernel = np.zeros((15, 15), np.float32)
    kernel[7, :] = 1 / 15
    blurred = cv2.filter2D(photo, -1, kernel)
    face, why = best_face(pipeline, blurred)
    assert face is None and "blurred" in why
    seen = pipeline.analyse(blurred)
    assert len(seen) == 1 and seen[0].embedding is not None and seen[0].quality.score < 0.5
    sharp = pipeline.analyse(photo)[0]
    assert seen[0].quality.score < sharp.quality.score


def test_calibration_meets_the_target_fpir_and_keeps_the_floor_when_strangers_are_few():
    rng = np.random.default_rng(3)
    people = {f"p{i}": normalise(rng.normal(size=(1, 64))) for i in range(40)}
    # Two templates each: the person plus noise; strangers: fresh random faces.
    by_person = {p: normalise(np.repeat(v, 2, 0) + 0.06 * rng.normal(size=(2, 64))).astype(np.float32)
                 for p, v in people.items()}
    strangers = {f"s{i}": normalise(rng.normal(size=(2, 64))).astype(np.float32) for i in range(600)}
    mated, stranger_visits, size = evidence_from_templates(by_person, strangers)
    assert size == 40 and len(mated) == 80 and len(stranger_visits) == 40 + 600
    result = choose_thresholds(mated, stranger_visits, 0.01, size, 0.01)
    assert result.resolved and result.expected_fpir <= 0.01 and result.unknown_below <= result.accept - 0.01
    assert result.expected_fnir < 0.2
    # Growing the gallery can only make strangers' acceptance likelier.
    grows = list(result.fpir_if_gallery_grows.values())
    assert grows == sorted(grows)
    few = choose_thresholds(mated, stranger_visits[:50], 0.01, size, 0.01, floor=0.99)
    assert not few.resolved and few.accept >= 0.99 and "floor" in few.note


def test_visit_evidence_counts_frames_that_agree():
    gallery = normalise(np.eye(3, 8, dtype=np.float32))
    ids = ["a", "b", "c"]
    frames = normalise(np.array([[1, 0.1, 0, 0, 0, 0, 0, 0], [1, 0, 0.1, 0, 0, 0, 0, 0],
                                 [0.1, 1, 0, 0, 0, 0, 0, 0]], dtype=np.float32))
    ev = visit_evidence(ids, gallery, "a", frames)
    assert ev.best_id == "a" and ev.agree  # two of three frames point at "a"
    ev = visit_evidence(ids, gallery, "a", frames[[0, 2]])
    assert not ev.agree  # one of two: not enough frames agree


def test_calibrate_cli_prints_expected_fpir_and_writes_thresholds(tmp_path, faces):
    enrolment, strangers = tmp_path / "enrol", tmp_path / "strangers"
    for person in EMPLOYEES:
        (enrolment / person).mkdir(parents=True)
        for photo in photos(faces, person)[:2]:
            (enrolment / person / photo.name).write_bytes(photo.read_bytes())
    strangers.mkdir()
    for photo in photos(faces, "person10"):
        (strangers / photo.name).write_bytes(photo.read_bytes())  # loose photos: one stranger each
    config = tmp_path / "edge.toml"
    config.write_text('device_id = "pi-x-01"\n\n[recognition]\n# kept\nthreads = 1\n')
    out = subprocess.run([sys.executable, "-m", "edge.cli", "calibrate", str(enrolment), "--strangers", str(strangers),
                          "--fpir", "0.01", "--config", str(config)], capture_output=True, text=True, timeout=300,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["gallery_size"] == 4 and result["stranger_visits"] == 4 + 3
    assert not result["resolved"] and result["accept"] >= 0.955  # 7 stranger visits cannot show 1 %
    assert result["expected_fpir"] == 0.0 and 0 <= result["expected_fnir"] <= 1
    text = config.read_text()
    assert f"accept = {result['accept']}" in text and "# kept" in text and "threads = 1" in text
    assert "FPIR" in out.stderr and "FNIR" in out.stderr


def test_openset_bench_prints_the_named_figures(tmp_path, faces):
    dataset = tmp_path / "ds"
    for person in (*EMPLOYEES, "person10"):
        (dataset / person).mkdir(parents=True)
        for photo in photos(faces, person):
            (dataset / person / photo.name).write_bytes(photo.read_bytes())
    (dataset / "person01" / "broken.jpg").write_bytes(b"not a jpeg")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "openset.py"), "--dataset", str(dataset),
                          "--splits", "2", "--no-peer"], capture_output=True, text=True, timeout=600, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("gallery_size", "visits_enrolled", "visits_stranger", "correct_rate", "wrong_identity_rate",
                "no_decision_rate", "stranger_accept_rate", "ms_per_face"):
        assert key in summary
    # 5 people with 3+ photos: 2 enrolled per split; everyone else's photos are stranger visits.
    assert summary["gallery_size"] == 2 and summary["visits_enrolled"] >= 2 and summary["visits_stranger"] >= 3
    assert summary["wrong_identity_rate"] == 0 and summary["stranger_accept_rate"] == 0
    rates = summary["correct_rate"] + summary["wrong_identity_rate"] + summary["no_decision_rate"]
    assert rates == pytest.approx(1.0)


def test_notice_when_only_refused_frames(pipeline, demo_gallery):
    """A face seen only in frames too dark to embed: no event, and the terminal asks for light."""
    from edge.infer.detect import Detection
    from edge.infer.pipeline import Face
    from edge.infer.quality import Quality

    decider = VisitDecider(demo_gallery, DecisionPolicy(), pipeline.model_id)
    det = Detection(np.array([100, 100, 200, 200], np.float32), np.zeros((6, 2), np.float32), 0.9)
    dark = Quality(30, 5, 0.1, 0, 3, 0.0, ("exposure",), ("exposure",))
    for i in range(4):
        decider.update([(det, Face(det, dark, np.zeros((150, 150, 3), np.uint8)))], T0 + timedelta(seconds=0.1 * i))
    assert decider.flush(T0 + timedelta(seconds=1)) == []
    assert [n.message for n in decider.take_notices()] == [MESSAGES["exposure"]]


def test_template_of_a_photo_is_unchanged_by_the_multiscale_detector(pipeline, faces):
    """Enrolment photos (one face filling the frame) give the same template as before: one window."""
    short = FacePipeline(detector="short")
    a, _ = template_from_photo(pipeline, photos(faces, "person01")[0])
    b, _ = template_from_photo(short, photos(faces, "person01")[0])
    assert float(a @ b) > 0.999
