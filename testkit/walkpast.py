"""Render synthetic walk-past videos from still photos (for the demo, tests and benchmarks).

Each visit shows one person approaching the camera: the face grows and drifts across the frame, the
photo changes between several photos of the same person (different poses, as a real head turns), with
noise, a little motion blur and a lighting change. Nothing here is recorded footage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.capture.folder_source import read_rgb
from edge.infer.detect import FaceDetector


@dataclass
class Visit:
    photos: list[Path]
    frames: int = 24
    start_x: float = 0.25  # centre, as a fraction of the width, at the first and last frame
    end_x: float = 0.6
    y: float = 0.45
    start_face: float = 0.12  # face box size, as a fraction of the frame height
    end_face: float = 0.3
    gap_after: int = 12  # empty frames after the visit so the track ends
    photo_every: int = 2  # frames shown of one photo before the next


@dataclass
class Scene:
    width: int = 640
    height: int = 480
    fps: float = 12.0
    # Each item is one visit, or a list of visits played at the same time (people crossing).
    visits: list[Visit | list[Visit]] = field(default_factory=list)
    seed: int = 7


def _face_crop(detector: FaceDetector, rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """A square crop around the largest face (2.4 x its box) and the face size within the crop."""
    dets = detector.detect(rgb)
    if not dets:
        raise ValueError("no face in a photo used for the walk-past video")
    d = max(dets, key=lambda x: x.size)
    cx, cy = d.centre
    half = d.size * 1.2
    x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
    x2, y2 = int(min(rgb.shape[1], cx + half)), int(min(rgb.shape[0], cy + half))
    crop = rgb[y1:y2, x1:x2]
    return crop, d.size / max(crop.shape[:2])


def _read(path: Path) -> np.ndarray:
    rgb = read_rgb(path)
    if rgb is None:
        raise ValueError(f"cannot read {path}")
    return rgb


def _draw(frame: np.ndarray, visit: Visit, crops: list[tuple[np.ndarray, float]], i: int, scene: Scene) -> None:
    """Paste the visit's face for frame i: growing as it approaches; the photo changes every frame or two
    (different photos of the person stand in for a head that turns a little as it walks)."""
    t = i / max(visit.frames - 1, 1)
    crop, face_frac = crops[(i // visit.photo_every) % len(crops)]
    face_px = scene.height * (visit.start_face + t * (visit.end_face - visit.start_face))
    side = max(8, int(face_px / face_frac))
    patch = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    if i % 3 == 1:  # a little horizontal motion blur now and then
        patch = cv2.blur(patch, (5, 1))
    cx = int(scene.width * (visit.start_x + t * (visit.end_x - visit.start_x)))
    cy = int(scene.height * visit.y)
    x1, y1 = cx - side // 2, cy - side // 2
    fx1, fy1 = max(0, x1), max(0, y1)
    fx2, fy2 = min(scene.width, x1 + side), min(scene.height, y1 + side)
    if fx2 > fx1 and fy2 > fy1:
        frame[fy1:fy2, fx1:fx2] = patch[fy1 - y1:fy2 - y1, fx1 - x1:fx2 - x1]


def background(scene: Scene) -> np.ndarray:
    y = np.linspace(90, 150, scene.height, dtype=np.float32)[:, None]
    x = np.linspace(0, 30, scene.width, dtype=np.float32)[None, :]
    grey = (y + x).astype(np.uint8)
    return np.dstack([grey, grey + 5, grey + 12])


def render(scene: Scene, out_path: Path, detector: FaceDetector | None = None) -> Path:
    detector = detector or FaceDetector("short")
    rng = np.random.default_rng(scene.seed)
    bg = background(scene)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"MJPG"), scene.fps,
                             (scene.width, scene.height))
    if not writer.isOpened():
        raise OSError(f"cannot write video {out_path}")
    try:
        for item in scene.visits:
            group = item if isinstance(item, list) else [item]
            crops = [[_face_crop(detector, _read(p)) for p in visit.photos] for visit in group]
            length = max(v.frames for v in group)
            for i in range(length):
                frame = bg.copy()
                for visit, visit_crops in zip(group, crops, strict=True):
                    if i < visit.frames:
                        _draw(frame, visit, visit_crops, i, scene)
                gain = 0.9 + 0.2 * i / max(length - 1, 1)
                noisy = frame.astype(np.float32) * gain + rng.normal(0, 4, frame.shape)
                writer.write(cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
            for _ in range(max(v.gap_after for v in group)):
                writer.write(cv2.cvtColor(bg, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return out_path
