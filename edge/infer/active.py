"""Active liveness for field devices: a random challenge (blink, turn the head left or right).

    challenge = ActiveChallenge.new()            # random kind; or ActiveChallenge.new("turn_left")
    ui.show(challenge.prompt)                    # Bahasa Indonesia, for the screen
    for frame in camera:                         # RGB frames with their time in seconds
        state = challenge.feed(frame.rgb, t)     # pending -> passed / failed / timeout
        if state is not ChallengeState.PENDING:
            break
    event_liveness = challenge.liveness()        # goes into the event, result + measured scores

A challenge passes only when the asked action is seen AND the texture cue says a real face (a replayed
video of a person blinking or turning shows the action; MiniFASNet catches the screen). A blink is read
from the eyelid contours of MediaPipe's iris model (edge/infer/eyes.py, edge/infer/cues.py blinks()); a
turn from the face mesh: the nose must move between the cheeks by `turn_min` in the asked direction and
the face must change in a way a flat picture cannot (plane residual between the frontal and the turned
frame at least `parallax_min`), so a photo turned in front of the camera does not pass.
Directions are the person's own: "left" is their left, whatever the preview mirrors.
Measured on real footage and on prints/replays generated from it: docs/accuracy.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from edge.infer.cues import BlinkRule, CueMeter, FrameCue, blinks, plane_residual, yaw
from hadir.contract import Liveness


class ChallengeKind(str, Enum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"


class ChallengeState(str, Enum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"  # the texture cue says print or screen
    TIMEOUT = "timeout"  # the action was not seen in time (or the face was never clear enough)


PROMPTS = {
    ChallengeKind.BLINK: "Kedipkan mata Anda",
    ChallengeKind.TURN_LEFT: "Tolehkan kepala ke kiri Anda, lalu kembali",
    ChallengeKind.TURN_RIGHT: "Tolehkan kepala ke kanan Anda, lalu kembali",
}


@dataclass(frozen=True)
class ChallengePolicy:
    timeout_s: float = 6.0
    spoof_below: float = 0.3  # texture median below this: a print or a screen
    live_above: float = 0.6  # texture median needed to pass
    min_texture_frames: int = 5
    turn_min: float = 0.3  # yaw change from the frontal start (about 25-30 degrees)
    parallax_min: float = 0.03  # plane residual frontal -> turned; turned prints stay below 0.02
    frontal_frames: int = 3  # frames that set the frontal start of a turn
    blink: BlinkRule = field(default_factory=BlinkRule)


class ActiveChallenge:
    """Feed it frames (or cues); it says pending, passed, failed or timeout."""

    def __init__(self, kind: ChallengeKind, policy: ChallengePolicy | None = None, meter: CueMeter | None = None,
                 detector=None):
        """`meter` and `detector` (a FaceDetector) are shared between challenges; made on first use."""
        self.kind, self.policy = ChallengeKind(kind), policy or ChallengePolicy()
        self._meter, self._detector = meter, detector
        self.cues: list[FrameCue | None] = []
        self.started: float | None = None
        self.state = ChallengeState.PENDING
        self.seen_at: float | None = None  # when the action was seen

    @classmethod
    def new(cls, kind: ChallengeKind | str | None = None, rng: random.Random | None = None, **kwargs
            ) -> ActiveChallenge:
        """A challenge of `kind`, or of a random kind (so that a prepared video cannot know it)."""
        chosen = ChallengeKind(kind) if kind else (rng or random.SystemRandom()).choice(list(ChallengeKind))
        return cls(chosen, **kwargs)

    @property
    def prompt(self) -> str:
        return PROMPTS[self.kind]

    # ------------------------------------------------------------------------------------------ feeding

    def feed(self, rgb: np.ndarray, at: float) -> ChallengeState:
        """One camera frame (RGB) at `at` seconds: finds the largest face and measures it."""
        if self._meter is None:
            self._meter = CueMeter()
        if self._detector is None:
            from edge.infer.detect import FaceDetector

            self._detector = FaceDetector("short")
        faces = self._detector.detect(rgb)
        cue = None
        if faces:
            face = max(faces, key=lambda d: d.size)
            cue = self._meter.measure(rgb, face.box, at)
        return self.feed_cue(cue, at)

    def feed_cue(self, cue: FrameCue | None, at: float) -> ChallengeState:
        """One frame's cues (None: no face) at `at` seconds."""
        if self.state is not ChallengeState.PENDING:
            return self.state
        if self.started is None:
            self.started = at
        self.cues.append(cue)
        faces = [c for c in self.cues if c is not None]
        texture = float(np.median([c.texture for c in faces])) if faces else 0.0
        if len(faces) >= self.policy.min_texture_frames and texture < self.policy.spoof_below:
            self.state = ChallengeState.FAILED
        elif self.seen_at is None and self._action_seen():
            self.seen_at = at
        if (self.state is ChallengeState.PENDING and self.seen_at is not None
                and len(faces) >= self.policy.min_texture_frames and texture >= self.policy.live_above):
            self.state = ChallengeState.PASSED
        elif self.state is ChallengeState.PENDING and at - self.started >= self.policy.timeout_s:
            self.state = ChallengeState.TIMEOUT
        return self.state

    # ------------------------------------------------------------------------------------------ reading

    def _recent(self, seconds: float) -> list[FrameCue | None]:
        """The cues of the last `seconds` (a blink needs its baseline and recovery, not the whole window)."""
        last = next((c.at for c in reversed(self.cues) if c is not None), None)
        if last is None:
            return []
        start = len(self.cues)
        while start > 0 and (self.cues[start - 1] is None or last - self.cues[start - 1].at <= seconds):
            start -= 1
        return self.cues[start:]

    def _action_seen(self) -> bool:
        if self.kind is ChallengeKind.BLINK:
            rule = self.policy.blink
            return bool(blinks(self._recent(rule.baseline_s + 2 * rule.max_s), rule))
        turn, parallax = self.turn_measure()
        return turn >= self.policy.turn_min and parallax >= self.policy.parallax_min

    def turn_measure(self) -> tuple[float, float]:
        """(largest yaw change in the asked direction from the frontal start, plane residual between the
        frontal start and that frame)."""
        faces = [c for c in self.cues if c is not None]
        if len(faces) <= self.policy.frontal_frames:
            return 0.0, 0.0
        start = faces[:self.policy.frontal_frames]
        base = float(np.median([yaw(c.mesh) for c in start]))
        sign = 1.0 if self.kind is ChallengeKind.TURN_LEFT else -1.0
        changes = [sign * (yaw(c.mesh) - base) for c in faces[self.policy.frontal_frames:]]
        best = int(np.argmax(changes))
        turned = faces[self.policy.frontal_frames + best]
        return float(changes[best]), plane_residual(start[len(start) // 2].mesh, turned.mesh)

    def liveness(self) -> Liveness:
        """The outcome for the event: passed -> live, failed -> spoof, timeout / pending -> inconclusive."""
        faces = [c for c in self.cues if c is not None]
        scores = {"frames": float(len(faces)),
                  "seconds": round((faces[-1].at - faces[0].at) if faces else 0.0, 3),
                  "texture": round(float(np.median([c.texture for c in faces])) if faces else 0.0, 4)}
        if self.kind is ChallengeKind.BLINK:
            scores["blinks"] = float(len(blinks(self.cues, self.policy.blink)))
        else:
            turn, parallax = self.turn_measure()
            scores.update(turn=round(turn, 4), parallax=round(parallax, 4))
        result = {ChallengeState.PASSED: "live", ChallengeState.FAILED: "spoof"}.get(self.state, "inconclusive")
        return Liveness(method=f"active-{self.kind.value}", passed=result == "live",
                        score=float(np.clip(scores["texture"], 0, 1)), result=result, scores=scores)
