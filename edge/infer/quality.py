"""Face quality: strict gates for enrolment photos, weights (and only a few hard refusals) for recognition.

Enrolment keeps the strict gates: a template is only as good as the photo it came from. A passing face at
the terminal is different: a small, blurred or dark face still carries identity (the degraded-probe
figures in docs/accuracy.md), so it is embedded and its frame weighs less in the track's decision. Only
faces that cannot carry identity at all (eyes a few pixels apart, nearly black or white, turned to
profile) are refused outright.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.infer.detect import EYE_L, EYE_R, MOUTH, NOSE, Detection


@dataclass(frozen=True)
class QualityLimits:
    # Enrolment gates (a photo failing any of them is refused, with the reason).
    min_eye_distance_px: float = 18.0
    min_sharpness: float = 25.0  # variance of the Laplacian on the grey chip
    max_yaw: float = 0.45  # nose offset from the eye midline, in eye distances
    max_roll_deg: float = 30.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    # Recognition: below/above these a face is not embedded at all (nothing useful is left in it).
    hard_min_eye_distance_px: float = 7.0
    hard_max_yaw: float = 0.9
    hard_max_roll_deg: float = 60.0
    hard_min_brightness: float = 8.0
    hard_max_brightness: float = 248.0


@dataclass(frozen=True)
class Quality:
    eye_distance_px: float
    sharpness: float
    yaw: float
    roll_deg: float
    brightness: float
    score: float  # 0..1, the frame's weight in a track's combined template
    reasons: tuple[str, ...]  # enrolment gates failed; empty = good enough to enrol
    refusals: tuple[str, ...] = ()  # hard limits failed: not embedded at all

    @property
    def ok(self) -> bool:
        """Passes the enrolment gates."""
        return not self.reasons

    @property
    def usable(self) -> bool:
        """Worth embedding for recognition (possibly with a low weight)."""
        return not self.refusals


def _measure(detection: Detection, chip: np.ndarray) -> tuple[float, float, float, float, float]:
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
    return eye_dist, sharpness, yaw, roll, float(grey.mean())


def assess(detection: Detection, chip: np.ndarray, limits: QualityLimits) -> Quality:
    eye_dist, sharpness, yaw, roll, brightness = _measure(detection, chip)
    lim = limits
    reasons = []
    if eye_dist < lim.min_eye_distance_px:
        reasons.append(f"face too small: eyes {eye_dist:.0f} px apart, need {lim.min_eye_distance_px:.0f}")
    if sharpness < lim.min_sharpness:
        reasons.append(f"blurred: sharpness {sharpness:.0f} < {lim.min_sharpness:.0f}")
    if yaw > lim.max_yaw:
        reasons.append(f"face turned away (yaw {yaw:.2f} > {lim.max_yaw:.2f})")
    if abs(roll) > lim.max_roll_deg:
        reasons.append(f"head tilted {roll:.0f} degrees")
    if not lim.min_brightness <= brightness <= lim.max_brightness:
        reasons.append(f"exposure: brightness {brightness:.0f} outside {lim.min_brightness:.0f}-"
                       f"{lim.max_brightness:.0f}")
    refusals = []
    if eye_dist < lim.hard_min_eye_distance_px:
        refusals.append("too_small")
    if yaw > lim.hard_max_yaw or abs(roll) > lim.hard_max_roll_deg:
        refusals.append("turned_away")
    if not lim.hard_min_brightness <= brightness <= lim.hard_max_brightness:
        refusals.append("exposure")

    # Weight: each shortfall lowers it smoothly instead of cutting the frame off.
    size_term = float(np.clip(eye_dist / (2 * lim.min_eye_distance_px), 0.15, 1.0))
    sharp_term = float(np.clip(sharpness / (4 * lim.min_sharpness), 0.25, 1.0))
    pose_term = float(np.clip(1.0 - yaw / (2 * lim.max_yaw), 0.1, 1.0))
    light_term = float(np.clip(min(brightness / lim.min_brightness, (255 - brightness) / (255 - lim.max_brightness)),
                               0.3, 1.0))
    score = float(np.clip(size_term * sharp_term * pose_term * light_term * detection.score, 0.0, 1.0))
    return Quality(eye_dist, sharpness, yaw, roll, brightness, score, tuple(reasons), tuple(refusals))
