"""Quality gates applied before a face is embedded: size, sharpness, pose and exposure."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.infer.detect import EYE_L, EYE_R, MOUTH, NOSE, Detection


@dataclass(frozen=True)
class QualityLimits:
    min_eye_distance_px: float = 18.0
    min_sharpness: float = 25.0  # variance of the Laplacian on the grey chip
    max_yaw: float = 0.45  # nose offset from the eye midline, in eye distances
    max_roll_deg: float = 30.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0


@dataclass(frozen=True)
class Quality:
    eye_distance_px: float
    sharpness: float
    yaw: float
    roll_deg: float
    brightness: float
    score: float  # 0..1, used to weight a track's frames
    reasons: tuple[str, ...]  # why it fails the gates; empty = passes

    @property
    def ok(self) -> bool:
        return not self.reasons


def assess(detection: Detection, chip: np.ndarray, limits: QualityLimits) -> Quality:
    kp = detection.keypoints
    eye_vec = kp[EYE_R] - kp[EYE_L]
    eye_dist = float(np.linalg.norm(eye_vec))
    roll = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    # Yaw proxy: how far the nose tip sits from the line between eye midpoint and mouth, in eye distances.
    mid_eyes = (kp[EYE_L] + kp[EYE_R]) / 2
    axis = kp[MOUTH] - mid_eyes
    axis_len = float(np.linalg.norm(axis)) or 1.0
    normal = np.array([-axis[1], axis[0]]) / axis_len
    yaw = float(abs(np.dot(kp[NOSE] - mid_eyes, normal)) / max(eye_dist, 1e-6))
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    brightness = float(grey.mean())

    reasons = []
    if eye_dist < limits.min_eye_distance_px:
        reasons.append(f"face too small: eyes {eye_dist:.0f} px apart, need {limits.min_eye_distance_px:.0f}")
    if sharpness < limits.min_sharpness:
        reasons.append(f"blurred: sharpness {sharpness:.0f} < {limits.min_sharpness:.0f}")
    if yaw > limits.max_yaw:
        reasons.append(f"face turned away (yaw {yaw:.2f} > {limits.max_yaw:.2f})")
    if abs(roll) > limits.max_roll_deg:
        reasons.append(f"head tilted {roll:.0f} degrees")
    if not limits.min_brightness <= brightness <= limits.max_brightness:
        reasons.append(f"exposure: brightness {brightness:.0f} outside "
                       f"{limits.min_brightness:.0f}-{limits.max_brightness:.0f}")

    size_term = min(1.0, eye_dist / (3 * limits.min_eye_distance_px))
    sharp_term = min(1.0, sharpness / (4 * limits.min_sharpness))
    pose_term = max(0.0, 1.0 - yaw / (2 * limits.max_yaw))
    score = float(np.clip(size_term * sharp_term * pose_term * detection.score, 0.0, 1.0))
    return Quality(eye_dist, sharpness, yaw, roll, brightness, score, tuple(reasons))
