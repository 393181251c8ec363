"""Liveness behind one small interface.

- `judge_track` with `PassivePolicy` (walk-past terminals, the default): over a whole track, texture
  (MiniFASNet, edge/infer/texture.py), non-rigid face motion and blinks (edge/infer/cues.py) give one of
  three results, live / spoof / inconclusive, with the measured scores. edge/decide/liveness_gate.py
  holds each decision until its track's verdict is in.
- `PlanarityCheck` (the older passive check, `recognition.liveness = "planarity"`): across the frames a
  decision carries, the landmarks of a flat photo move as a plane (one homography maps them); a real head
  shows parallax. On real footage it called most real faces flat over 6 frames (docs/accuracy.md).
- `BlinkCheck` (mesh eye aspect ratio): kept for reference; the mesh's lids barely move in real blinks.
  The field device's challenges (blink from the iris model's eyelids, head turns) are edge/infer/active.py.

Measured as APCER / BPCER (ISO/IEC 30107-3) on real footage and generated attacks: docs/accuracy.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from edge.infer.detect import EYE_L, EYE_R
from hadir.contract import Liveness


class LivenessCheck(Protocol):
    method: str

    def assess(self, landmarks: Sequence[np.ndarray]) -> Liveness: ...


def plane_residual(src: np.ndarray, dst: np.ndarray, eyes: tuple[int, int] = (EYE_L, EYE_R)) -> float:
    """RMS error of the least-squares homography from src to dst points, in units of the eye distance."""
    h, _ = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), 0)
    if h is None:
        return 0.0
    projected = cv2.perspectiveTransform(src.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
    eye = float(np.linalg.norm(dst[eyes[1]] - dst[eyes[0]])) or 1.0
    return float(np.sqrt(np.mean(np.sum((projected - dst) ** 2, axis=1)))) / eye


@dataclass
class PlanarityCheck:
    """Passive check over the face-mesh landmarks of a track's frames (468 points per frame).

    With BlazeFace's six keypoints alone the keypoint noise hides the parallax (measured: see
    docs/accuracy.md); the mesh's 468 points average it out.
    """

    threshold: float = 0.015  # residual (in eye distances) above which the face is not flat; from data
    min_frames: int = 4
    method: str = "planarity"

    def score(self, landmarks: Sequence[np.ndarray]) -> float | None:
        if len(landmarks) < self.min_frames:
            return None
        pts = [np.asarray(p, dtype=np.float64)[:, :2] for p in landmarks]
        # Frames spread over the track (more motion between them), every pair of up to six of them.
        idx = np.linspace(0, len(pts) - 1, num=min(len(pts), 6)).astype(int)
        residuals = [plane_residual(pts[a], pts[b], MESH_EYES) for i, a in enumerate(idx) for b in idx[i + 1:]
                     if a != b]
        return float(np.median(residuals)) if residuals else None

    def assess(self, landmarks: Sequence[np.ndarray]) -> Liveness:
        s = self.score(landmarks)
        if s is None:
            return Liveness(method=self.method, passed=False, score=0.0)
        # Map the residual to 0..1 around the threshold for the event (0.5 = at the threshold).
        confidence = float(np.clip(s / (2 * self.threshold), 0.0, 1.0))
        return Liveness(method=self.method, passed=s >= self.threshold, score=round(confidence, 4))


# ------------------------------------------------------------------------------------- face mesh / blink

# Face mesh indices of the six points around each eye (p1..p6 of the eye aspect ratio).
MESH_EYES = (33, 263)  # outer eye corners, for the eye distance
LEFT_EYE = (33, 160, 158, 133, 153, 144)
RIGHT_EYE = (362, 385, 387, 263, 373, 380)


def eye_aspect_ratio(mesh: np.ndarray, idx: tuple[int, ...]) -> float:
    p = mesh[list(idx), :2]
    vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    horizontal = np.linalg.norm(p[0] - p[3]) or 1.0
    return float(vertical / (2 * horizontal))


class FaceMesh:
    """MediaPipe face mesh (468 points) on a square face crop."""

    def __init__(self, threads: int = 1):
        from edge.infer.runtime import load

        self.model = load("face_mesh", threads)
        self.size = self.model.input_shape[1]

    def landmarks(self, rgb: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, float]:
        """(468 x 3 points in image pixels, face presence probability) for the face in `box`."""
        x1, y1, x2, y2 = box
        cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 1.5
        src = np.float32([[cx - side / 2, cy - side / 2], [cx + side / 2, cy - side / 2],
                          [cx - side / 2, cy + side / 2]])
        dst = np.float32([[0, 0], [self.size, 0], [0, self.size]])
        m = cv2.getAffineTransform(src, dst)
        crop = cv2.warpAffine(rgb, m, (self.size, self.size), borderMode=cv2.BORDER_CONSTANT)
        tensor = crop.astype(np.float32)[None] / 127.5 - 1.0
        outputs = self.model.run(tensor)
        mesh = next(o for o in outputs if o.size == 1404).reshape(468, 3)
        presence = float(1 / (1 + np.exp(-next(o for o in outputs if o.size == 1).item())))
        scale = side / self.size
        pts = mesh.copy()
        pts[:, 0] = mesh[:, 0] * scale + cx - side / 2
        pts[:, 1] = mesh[:, 1] * scale + cy - side / 2
        return pts, presence

    def ear(self, rgb: np.ndarray, box: np.ndarray) -> float:
        pts, _ = self.landmarks(rgb, box)
        return (eye_aspect_ratio(pts, LEFT_EYE) + eye_aspect_ratio(pts, RIGHT_EYE)) / 2


@dataclass
class BlinkCheck:
    """Active check: within the challenge window the eye aspect ratio must fall below `closed_ratio` of its
    open level and come back above `open_ratio` of it."""

    closed_ratio: float = 0.6
    open_ratio: float = 0.85
    method: str = "blink"

    def assess_ears(self, ears: Sequence[float]) -> Liveness:
        if len(ears) < 3:
            return Liveness(method=self.method, passed=False, score=0.0)
        values = np.asarray(ears, dtype=np.float64)
        baseline = float(np.percentile(values, 90)) or 1e-6
        low = int(np.argmin(values))
        dip = float(values[low] / baseline)
        before = values[:low].max(initial=0.0) / baseline
        after = values[low + 1:].max(initial=0.0) / baseline
        passed = dip <= self.closed_ratio and before >= self.open_ratio and after >= self.open_ratio
        return Liveness(method=self.method, passed=passed, score=round(float(np.clip(1 - dip, 0, 1)), 4))


# ------------------------------------------------------------------------------- walk-past, whole track


@dataclass(frozen=True)
class PassivePolicy:
    """Walk-past liveness over a whole track (a walk-past lasts 1-3 s). Three outcomes:

    - spoof: the texture cue says print or screen (median score below `spoof_below`);
    - live: the texture says real (median at or above `live_above`) and the face moves as a face does, not
      as a picture: non-rigid motion (`cues.nonrigid` >= `nonrigid_min`) or a blink;
    - inconclusive: anything else (too short, a face that does not move, texture in between). Never
      counted as attendance and never dropped: the hub lists it for review.
    Thresholds from ../shared/faces/video and prints/replays generated from it (docs/accuracy.md).
    """

    spoof_below: float = 0.3
    live_above: float = 0.6
    nonrigid_min: float = 0.02
    min_frames: int = 5
    min_seconds: float = 0.4
    decide_after_s: float = 1.0  # a conclusive verdict may be given once the track is this old
    max_wait_s: float = 3.0  # a held decision is released with whatever the verdict is by then
    max_cues: int = 150  # frames kept per track (the oldest are thinned out beyond this)
    method: str = "passive"


def judge_track(cues: Sequence, policy: PassivePolicy = PassivePolicy()) -> Liveness:
    """The walk-past verdict for one track's cues (edge/infer/cues.py FrameCue), with what was measured."""
    from edge.infer.cues import blinks, nonrigid

    seconds = (cues[-1].at - cues[0].at) if cues else 0.0
    scores = {"frames": float(len(cues)), "seconds": round(seconds, 3)}
    if len(cues) < policy.min_frames or seconds < policy.min_seconds:
        return Liveness(method=policy.method, passed=False, score=0.0, result="inconclusive", scores=scores)
    texture = float(np.median([c.texture for c in cues]))
    motion = nonrigid(cues)
    blink_count = len(blinks(cues)) if cues[0].openings is not None else 0
    scores.update(texture=round(texture, 4), nonrigid=round(motion, 4), blinks=float(blink_count))
    if texture < policy.spoof_below:
        result = "spoof"
    elif texture >= policy.live_above and (motion >= policy.nonrigid_min or blink_count > 0):
        result = "live"
    else:
        result = "inconclusive"
    return Liveness(method=policy.method, passed=result == "live", score=round(float(np.clip(texture, 0, 1)), 4),
                    result=result, scores=scores)
