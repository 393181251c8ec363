"""bench/liveness.py --real runs the shipped pipeline on any live/ + attack/ folder of videos and prints
its JSON summary (the real figures need ../shared/faces/video: docs/accuracy.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2

from testkit.walkpast import Scene, Visit, render

ROOT = Path(__file__).resolve().parents[2]


def test_real_liveness_bench_on_a_folder_of_that_shape(tmp_path, faces, pipeline):
    (tmp_path / "live").mkdir()
    (tmp_path / "attack").mkdir()
    render(Scene(visits=[Visit(sorted((faces / "person08").glob("*.jpg"))[2:])]), tmp_path / "live" / "walk.avi",
           pipeline.detectors[0])
    # An "attack" that holds no face at all: the bench must still report it (nothing judged live).
    blank = cv2.VideoWriter(str(tmp_path / "attack" / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for _ in range(10):
        blank.write(cv2.imread(str(sorted((faces / "person01").glob("*.jpg"))[0]))[:120, :160] * 0)
    blank.release()
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "liveness.py"), "--real", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["videos_live"] == 1 and summary["videos_attack"] == 1
    assert summary["tracks_live"] >= 1 and summary["tracks_attack"] == 0 and summary["apcer_video"] == 0.0
    assert summary["bpcer_video"] in (0.0, 1.0) and 0.0 <= summary["bpcer_track"] <= 1.0
    for key in ("frames_live", "bpcer_frame_texture", "live_windows_1s", "apcer_video_presented_faces"):
        assert key in summary
    assert "walk.avi" in out.stdout  # the per-video lines name each video and its verdicts
