"""Camera sources: timestamps, image folders with bad files, reconnect with back-off, dark/frozen warnings."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from edge.capture.base import FrameHealth
from edge.capture.factory import open_source
from edge.capture.folder_source import ImageFolderSource
from edge.capture.opencv_source import OpenCvSource

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)


def test_image_folder_in_name_order_skipping_corrupt_files(tmp_path, faces):
    for name in ("b.jpg", "a.jpg"):
        (tmp_path / name).write_bytes((faces / "person01" / "img1.jpg").read_bytes())
    (tmp_path / "c.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(ImageFolderSource(tmp_path, fps=4, start_at=T0).frames())
    assert [f.index for f in frames] == [0, 1] and frames[1].at == T0 + timedelta(seconds=0.25)
    assert frames[0].rgb.shape[2] == 3


def test_video_file_frames_follow_the_file_timeline(tmp_path):
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    frames = list(open_source(str(path), start_at=T0).frames())
    assert len(frames) == 5 and frames[4].at == T0 + timedelta(seconds=0.4)


def test_a_missing_camera_is_retried_with_back_off_then_reported(monkeypatch):
    sleeps = []
    monkeypatch.setattr("edge.capture.opencv_source.time.sleep", sleeps.append)
    source = OpenCvSource("rtsp://127.0.0.1:1/none", max_reconnects=4, max_backoff_s=2.0)
    with pytest.raises(OSError, match="cannot open video source"):
        next(source.frames())
    assert sleeps == [0.5, 1.0, 2.0, 2.0]


def test_unknown_source_says_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a camera spec nor an existing file"):
        open_source(str(tmp_path / "nothing.avi"))


def test_dark_and_frozen_frames_are_warned_once(caplog):
    health = FrameHealth(frozen_after=3)
    frame = np.full((48, 64, 3), 5, np.uint8)
    with caplog.at_level(logging.WARNING):
        warnings = [health.check(frame) for _ in range(5)]
    assert "too dark" in warnings[0][0]
    assert any("frozen" in w for ws in warnings for w in ws)
    assert sum(len(w) for w in warnings) == 2  # one warning per episode, not per frame
    assert health.check(np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)) == []
