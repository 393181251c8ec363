"""A random active challenge for a field check-in: the person is asked to do something a photo cannot.

The field UI drives any `ActiveChallenge`: it shows `prompt`, feeds one `FaceSample` per camera frame of the
tracked face, and stops at the first state other than PENDING (`edge.infer.active.ChallengeState`).

Two sets of checks, chosen by `[field] challenge_checks`:

- `measured` (the default): `edge.infer.active.ActiveChallenge`, measured on real footage in
  docs/accuracy.md. The action (a blink read from the iris model's eyelids, or a turn with parallax) must
  be seen AND the texture cue must say a real face, so a print or a phone replay fails.
- `geometry_only`: head movement read from BlazeFace's keypoints (and the mesh's eye aspect ratio for a
  blink), without the texture cue. A flat photo cannot turn its head (moving, scaling or tilting a print
  leaves the measured yaw unchanged), but a replayed video of the person, or a montage of two photos of
  them, passes. For demonstrations and tests on rendered video only, which the texture cue rightly
  refuses; events say so in their liveness method (`active-<kind>-geometry`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from edge.infer.active import ActiveChallenge as MeasuredCheck
from edge.infer.active import ChallengePolicy, ChallengeState
from edge.infer.detect import EYE_L, EYE_R, NOSE
from edge.infer.liveness import LEFT_EYE, RIGHT_EYE, BlinkCheck, eye_aspect_ratio
from hadir.contract import Liveness

KINDS = ("blink", "turn_left", "turn_right")
Checks = Literal["measured", "geometry_only"]


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
        """What goes into the event: method `active-<kind>[-geometry]`, passed, result, scores."""
        ...


class MeasuredChallenge:
    """`edge.infer.active.ActiveChallenge` on the face the check-in tracks (its cues measured on that face's
    box, not on whichever face is largest)."""

    needs_mesh = False

    def __init__(self, kind: str, timeout_s: float, meter):  # noqa: ANN001 - edge.infer.cues.CueMeter
        self.check = MeasuredCheck(kind, ChallengePolicy(timeout_s=timeout_s), meter=meter)
        self.meter, self.kind, self.prompt = meter, kind, self.check.prompt

    def feed(self, sample: FaceSample) -> ChallengeState:
        return self.check.feed_cue(self.meter.measure(sample.rgb, sample.box, sample.at), sample.at)

    def liveness(self) -> Liveness:
        return self.check.liveness()


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
        passed = self._outcome is ChallengeState.PASSED
        return Liveness(method=f"active-{self.kind}-geometry", passed=passed, score=round(score, 4),
                        result="live" if passed else "inconclusive", scores={"turn": round(self._best, 4)})


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
        passed = self._outcome is ChallengeState.PASSED
        return Liveness(method=f"active-{self.kind}-geometry", passed=passed, score=score,
                        result="live" if passed else "inconclusive")


def random_challenge(kinds: Sequence[str], rng: random.Random, timeout_s: float = 10.0,
                     checks: Checks = "measured", meter=None) -> ActiveChallenge:  # noqa: ANN001
    """One challenge drawn at random from `kinds`, so a prepared video cannot know which movement will be
    asked. `meter` (edge.infer.cues.CueMeter) is needed for the measured checks."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown challenge kinds {unknown or kinds!r}; known: {list(KINDS)}")
    kind = rng.choice(list(kinds))
    if checks == "measured":
        if meter is None:
            raise ValueError("the measured checks need a CueMeter")
        return MeasuredChallenge(kind, timeout_s, meter)
    if kind == "blink":
        return BlinkChallenge(timeout_s=timeout_s)
    return TurnChallenge(kind.removeprefix("turn_"), timeout_s=timeout_s)
