"""Recognition on generated walk-past videos: exactly one correct decision per visit; bad input is safe."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.opencv_source import OpenCvSource
from edge.decide.visits import DecisionPolicy, VisitDecider
from edge.enrol import template_from_photo
from edge.infer import runtime
from edge.infer.pipeline import BadImage, FacePipeline
from testkit.walkpast import Scene, Visit, render

T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)


def probe(faces: Path, person: str) -> list[Path]:
    return sorted((faces / person).glob("*.jpg"))[2:]  # photos never enrolled


def decide(pipeline, gallery, video: Path) -> list:
    decider = VisitDecider(gallery, DecisionPolicy(), pipeline.model_id)
    out, last = [], T0
    for frame in OpenCvSource(str(video), start_at=T0).frames():
        last = frame.at
        faces = [(d, pipeline.analyse_detection(frame.rgb, d) if decider.needs_embedding(d) else None)
                 for d in pipeline.detect(frame.rgb)]
        out += decider.update(faces, frame.at)
    return out + decider.flush(last)


def test_templates_are_unit_length_and_separate_people(pipeline, faces):
    a1, _ = template_from_photo(pipeline, faces / "person01" / "img1.jpg")
    a2, _ = template_from_photo(pipeline, faces / "person01" / "img6.jpg")
    b1, _ = template_from_photo(pipeline, faces / "person08" / "img26.jpg")
    assert abs(np.linalg.norm(a1) - 1) < 1e-5
    assert float(a1 @ a2) > 0.93 > float(a1 @ b1)


@pytest.mark.parametrize(("name", "visits", "expected"), [
    ("one person", [Visit([])], ["person05"]),
    ("sequence of people and a stranger", [Visit([]), Visit([]), Visit([])], ["person01", "person10", "person08"]),
    ("person who stops in front", [Visit([], frames=70, start_x=0.5, end_x=0.5, start_face=0.25, end_face=0.25)],
     ["person06"]),
])
def test_one_decision_per_visit(pipeline, demo_gallery, faces, tmp_path, name, visits, expected):
    for visit, person in zip(visits, expected, strict=True):
        visit.photos = probe(faces, person)
    video = render(Scene(visits=visits), tmp_path / "v.avi", pipeline.detectors[0])
    decisions = decide(pipeline, demo_gallery, video)
    got = [d.employee_id for d in decisions]
    assert got == [None if p == "person10" else p for p in expected], name


def test_two_people_crossing_give_two_decisions(pipeline, demo_gallery, faces, tmp_path):
    crossing = [Visit(probe(faces, "person01"), start_x=0.2, end_x=0.45, y=0.35, end_face=0.22),
                Visit(probe(faces, "person08"), start_x=0.8, end_x=0.6, y=0.55, end_face=0.22)]
    video = render(Scene(visits=[crossing]), tmp_path / "cross.avi", pipeline.detectors[0])
    got = sorted(d.employee_id for d in decide(pipeline, demo_gallery, video))
    assert got == ["person01", "person08"]


def test_recognize_cli_prints_one_json_line_per_visit(demo_gallery, pipeline, faces, tmp_path):
    gallery_file = tmp_path / "g.npz"
    demo_gallery.save(gallery_file)
    video = render(Scene(visits=[Visit(probe(faces, "person01")), Visit(probe(faces, "person10"))]),
                   tmp_path / "v.avi", pipeline.detectors[0])
    out = subprocess.run([sys.executable, "-m", "edge.cli", "recognize", "--source", str(video),
                          "--gallery", str(gallery_file), "--start-at", "2026-11-24T07:20:00+09:00"],
                         capture_output=True, text=True, timeout=120, check=True)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [x["employee_id"] for x in lines] == ["person01", None]
    assert lines[0]["decided_at"].startswith("2026-11-24T07:20")


@pytest.mark.parametrize(("frame", "error"), [
    (np.zeros((1, 1, 3), np.uint8), "too small"),
    (np.zeros((100, 100), np.uint8), "shape"),
    (np.zeros((100, 100, 3), np.float64), "dtype"),
    ("not an image", "numpy array"),
])
def test_malformed_frames_raise_a_clear_error(pipeline, frame, error):
    with pytest.raises(BadImage, match=error):
        pipeline.analyse(frame)


def test_empty_and_huge_frames_and_crowds_are_handled(pipeline, faces):
    assert pipeline.analyse(np.full((480, 640, 3), 128, np.uint8)) == []  # grey: no face
    assert pipeline.analyse(np.zeros((480, 640, 3), np.uint8)) == []  # black: no face
    huge = np.zeros((10000, 10000, 3), np.uint8)
    photo = cv2.cvtColor(cv2.imread(str(faces / "person01" / "img1.jpg")), cv2.COLOR_BGR2RGB)
    big = cv2.resize(photo, None, fx=12, fy=12)
    huge[2000:2000 + big.shape[0], 2000:2000 + big.shape[1]] = big[:8000, :8000]
    found = pipeline.analyse(huge)  # downscaled first, not a memory blow-up
    assert len(found) == 1 and found[0].embedding is not None
    tile = cv2.resize(photo, (200, 240))
    grid = np.concatenate([np.concatenate([tile] * 4, axis=1)] * 3, axis=0)
    assert len(pipeline.analyse(grid)) == 12
    # Ten small faces in a wide frame are below the short-range detector's reach; full range finds them.
    wide = np.concatenate([np.concatenate([tile] * 5, axis=1)] * 2, axis=0)
    assert len(FacePipeline(detector="full").analyse(wide)) == 10


def test_enrolment_refuses_bad_photos_with_reasons(pipeline, tmp_path, faces):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 definitely not a jpeg")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 200, np.uint8))
    assert template_from_photo(pipeline, corrupt) == (None, "not a readable image")
    assert template_from_photo(pipeline, blank) == (None, "no face found")


def test_model_with_wrong_checksum_is_refused(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(runtime.MODELS_DIR, models)
    target = models / "face_detection_short_range.tflite"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    runtime.manifest.cache_clear()
    try:
        with pytest.raises(runtime.ModelError, match="corrupt or was replaced"):
            runtime.load("blazeface_short", models_dir=models)
    finally:
        runtime.manifest.cache_clear()


@pytest.mark.parametrize("embedder", ["faceres", "mobileface"])
def test_alternative_embedders_separate_people_and_never_mix_with_others(embedder, faces, demo_gallery):
    from edge.infer.gallery import GalleryError

    alt = FacePipeline(embedder=embedder)
    a1, _ = template_from_photo(alt, faces / "person01" / "img1.jpg")
    a2, _ = template_from_photo(alt, faces / "person01" / "img6.jpg")
    b1, _ = template_from_photo(alt, faces / "person08" / "img26.jpg")
    assert a1.shape == (alt.embedder.dim,) and alt.embedder.dim != 128
    assert float(a1 @ a2) > float(a1 @ b1)
    with pytest.raises(GalleryError, match="gallery built with"):
        demo_gallery.search(a1, alt.model_id)  # a dlib gallery refuses another model's template
