"""Align a detected face to the embedder's template (dlib's 150x150 chip for the default model)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.infer.detect import EYE_L, EYE_R, MOUTH, NOSE
from edge.infer.runtime import MODELS_DIR, manifest


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src onto dst (Umeyama)."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    var = (src_c**2).sum() / len(src)
    scale = float(np.trace(np.diag(d) @ sign) / var) if var > 0 else 1.0
    m = np.zeros((2, 3), dtype=np.float64)
    m[:, :2] = scale * rot
    m[:, 2] = dst_mean - scale * rot @ src_mean
    return m


@dataclass(frozen=True)
class AlignmentTemplate:
    chip_size: int
    points: np.ndarray  # template coordinates of the keypoints used
    indices: tuple[int, ...]  # which BlazeFace keypoints they are

    @classmethod
    def for_model(cls, model_name: str, models_dir: Path = MODELS_DIR) -> AlignmentTemplate:
        entry = manifest(models_dir)[model_name]
        if entry["template"] == "arcface":
            return cls.arcface(int(entry["chip_size"]), entry["template_points"])
        data = json.loads((models_dir / entry["template"]).read_text())
        idx = tuple(data["point_sets"][data["recommended_points"]])
        pts = np.asarray(data["keypoints_150"], dtype=np.float64)[list(idx)]
        return cls(chip_size=int(data["chip_size"]), points=pts, indices=idx)

    @classmethod
    def arcface(cls, chip_size: int, points: str) -> AlignmentTemplate:
        """The standard ArcFace 112x112 five-point template, scaled; BlazeFace has the mouth centre, not its
        corners, so the corners' midpoint stands in for it."""
        eyes = [[38.2946, 51.6963], [73.5318, 51.5014]]
        nose, mouth = [56.0252, 71.7366], [(41.5493 + 70.7299) / 2, (92.3655 + 92.2041) / 2]
        pts = {"eyes": (eyes, (EYE_L, EYE_R)), "eyes_nose_mouth": ([*eyes, nose, mouth], (EYE_L, EYE_R, NOSE, MOUTH))}
        coords, idx = pts[points]
        return cls(chip_size=chip_size, points=np.asarray(coords, dtype=np.float64) * chip_size / 112.0,
                   indices=idx)

    def align(self, rgb: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """Warp the face into a chip_size x chip_size RGB chip."""
        kps = np.asarray(keypoints, dtype=np.float64)[list(self.indices)]
        m = similarity_transform(kps, self.points)
        image = rgb
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        # Shrink a large face in halves first (as dlib does) so the warp does not alias.
        while scale < 0.5 and min(image.shape[:2]) > 2 * self.chip_size:
            image = cv2.pyrDown(image)
            kps = kps / 2.0
            m = similarity_transform(kps, self.points)
            scale *= 2.0
        return cv2.warpAffine(image, m, (self.chip_size, self.chip_size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
