"""A random active challenge for a field check-in: the person is asked to do something a photo cannot.

The field UI drives any `ActiveChallenge`: it shows `prompt`, feeds one `FaceSample` per camera frame of the
tracked face, and stops at the first state other than PENDING. The checks here are simple ones built on
what the device already computes (BlazeFace keypoints, the face mesh's eye aspect ratio); better checks
plug in by registering another factory in `CHALLENGES` under the same kind. Names follow the active
liveness work on edge/infer (`ChallengeState`, kinds `blink` / `turn_left` / `turn_right`, Liveness method
`active-<kind>`); a check fed whole frames plugs in through a small adapter, e.g.

    class FrameFed:  # wraps a check with feed(rgb, at) -> ChallengeState
        def __init__(self, check): self.check, self.kind, self.prompt = check, check.kind.value, check.prompt
        needs_mesh = False
        def feed(self, sample): return self.check.feed(sample.rgb, sample.at)
        def liveness(self): return self.check.liveness()

Limits, stated plainly: the head-turn check defeats a flat photo (turning or tilting a print scales the
nose offset and the eye distance alike, so the measured yaw does not change), but not a video of the
person turning. The mesh blink check misses most real blinks (the mesh's eyelid points barely move;
measured in issue #11), so it is not in the default pool.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np

from edge.infer.detect import EYE_L, EYE_R, NOSE
from edge.infer.liveness import LEFT_EYE, RIGHT_EYE, BlinkCheck, eye_aspect_ratio
from hadir.contract import Liveness


class ChallengeState(str, Enum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class FaceSample:
    """One camera frame of the face being checked in."""

    at: float  # seconds (frame capture time)
    rgb: np.ndarray = field(repr=False)  # the whole frame, for checks that measure the face themselves
    box: np.ndarray = field(repr=False)  # x1, y1, x2, y2
    keypoints: np.ndarray = field(repr=False)  # BlazeFace's six points (eyes, nose, mouth, ears), pixels
    mesh: np.ndarray | None = field(default=None, repr=False)  # 468 x 3 face mesh, when `needs_mesh`


class ActiveChallenge(Protocol):
    kind: str  # "blink", "turn_left", "turn_right"
    prompt: str  # what the screen asks, in Bahasa Indonesia
    needs_mesh: bool  # whether samples must carry the face mesh (costs ~10 ms a frame)

    def feed(self, sample: FaceSample) -> ChallengeState: ...

    def liveness(self) -> Liveness:
        """What goes into the event: method `active-<kind>`, passed, score 0-1."""
        ...


def head_yaw(keypoints: np.ndarray) -> float:
    """The nose's offset from the eyes' midpoint along the eye line, in eye distances: positive when the
    nose is towards the image-right eye, i.e. the person turned to their own left (a camera facing them,
    not mirrored). About 0 for a frontal face, ~0.3 at a 30 degree turn. Measured along the eye line, so
    tilting the head (or a photo) sideways does not read as a turn."""
    eye_vector = keypoints[EYE_R] - keypoints[EYE_L]
    eye_distance = float(np.linalg.norm(eye_vector)) or 1.0
    eyes_mid = (keypoints[EYE_L] + keypoints[EYE_R]) / 2
    return float(np.dot(keypoints[NOSE] - eyes_mid, eye_vector / eye_distance)) / eye_distance


@dataclass
class TurnChallenge:
    """Turn the head to one side: the yaw must move `min_change` towards that side from where it was, end
    on that side of frontal by at least `min_yaw`, and hold there for `hold_frames` frames in a row (one
    misplaced keypoint is not a turn). Provisional figures: a deliberate turn of 20-30 degrees moves the
    yaw by 0.2-0.3; BlazeFace's keypoints jitter by ~0.01 on a still face."""

    direction: str  # "left" or "right": the person's own left or right
    timeout_s: float = 10.0
    min_change: float = 0.08
    min_yaw: float = 0.06
    hold_frames: int = 2
    needs_mesh: bool = False
    _start: float | None = None
    _extreme: float | None = None  # the yaw furthest towards the other side seen so far
    _best: float = 0.0
    _held: int = 0
    _outcome: ChallengeState = ChallengeState.PENDING

    @property
    def kind(self) -> str:
        return f"turn_{self.direction}"

    @property
    def prompt(self) -> str:
        return f"Tolehkan kepala ke {'KIRI' if self.direction == 'left' else 'KANAN'} Anda, lalu kembali"

    def feed(self, sample: FaceSample) -> ChallengeState:
        if self._outcome is not ChallengeState.PENDING:
            return self._outcome
        self._start = sample.at if self._start is None else self._start
        # Left turn = yaw increasing; work with a signed yaw where the asked side is positive.
        yaw = head_yaw(sample.keypoints) * (1 if self.direction == "left" else -1)
        self._extreme = yaw if self._extreme is None else min(self._extreme, yaw)
        change = yaw - self._extreme
        self._best = max(self._best, change)
        self._held = self._held + 1 if change >= self.min_change and yaw >= self.min_yaw else 0
        if self._held >= self.hold_frames:
            self._outcome = ChallengeState.PASSED
        elif sample.at - self._start > self.timeout_s:
            self._outcome = ChallengeState.TIMEOUT
        return self._outcome

    def liveness(self) -> Liveness:
        score = float(np.clip(self._best / (2 * self.min_change), 0, 1))
        return Liveness(method=f"active-{self.kind}", passed=self._outcome is ChallengeState.PASSED,
                        score=round(score, 4))


@dataclass
class BlinkChallenge:
    """Blink: the face mesh's eye aspect ratio must dip and recover (edge/infer/liveness.BlinkCheck)."""

    timeout_s: float = 8.0
    check: BlinkCheck = field(default_factory=BlinkCheck)
    kind: str = "blink"
    prompt: str = "Kedipkan mata Anda"
    needs_mesh: bool = True
    _ears: list[float] = field(default_factory=list)
    _start: float | None = None
    _result: Liveness | None = None
    _outcome: ChallengeState = ChallengeState.PENDING

    def feed(self, sample: FaceSample) -> ChallengeState:
        if self._outcome is not ChallengeState.PENDING:
            return self._outcome
        self._start = sample.at if self._start is None else self._start
        if sample.mesh is not None:
            self._ears.append((eye_aspect_ratio(sample.mesh, LEFT_EYE) + eye_aspect_ratio(sample.mesh, RIGHT_EYE)) / 2)
            self._result = self.check.assess_ears(self._ears)
            if self._result.passed:
                self._outcome = ChallengeState.PASSED
                return self._outcome
        if sample.at - self._start > self.timeout_s:
            self._outcome = ChallengeState.TIMEOUT
        return self._outcome

    def liveness(self) -> Liveness:
        score = self._result.score if self._result else 0.0
        return Liveness(method=f"active-{self.kind}", passed=self._outcome is ChallengeState.PASSED, score=score)


# kind -> factory(timeout_s). The integrator's better checks replace entries here.
CHALLENGES: dict[str, Callable[[float], ActiveChallenge]] = {
    "turn_left": lambda t: TurnChallenge("left", timeout_s=t),
    "turn_right": lambda t: TurnChallenge("right", timeout_s=t),
    "blink": lambda t: BlinkChallenge(timeout_s=t),
}


def random_challenge(kinds: Sequence[str], rng: random.Random, timeout_s: float = 10.0) -> ActiveChallenge:
    """One challenge drawn at random from `kinds` (names in CHALLENGES), so a prepared video cannot know
    which movement will be asked."""
    unknown = [k for k in kinds if k not in CHALLENGES]
    if unknown or not kinds:
        raise ValueError(f"unknown challenge kinds {unknown or kinds!r}; known: {sorted(CHALLENGES)}")
    return CHALLENGES[rng.choice(list(kinds))](timeout_s)
