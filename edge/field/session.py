"""One field check-in, frame by frame: one face, recognised, then a random active challenge on that same
face, then a signed event in the outbox with whatever GPS fix there is (the hub decides what counts).

Never guess, never hide: an unknown face is recorded as unknown; a face the recogniser is unsure of is not
recorded and the person is asked to try again; a failed or timed-out challenge is still recorded, with
liveness not passed, so the hub shows it for review instead of it silently vanishing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from edge.agent import EdgeAgent
from edge.capture.base import Frame
from edge.decide.visits import Decision, VisitDecider
from edge.field.challenge import ActiveChallenge, ChallengeState, FaceSample
from edge.infer.detect import Detection
from edge.infer.pipeline import BadImage
from hadir.contract import AttendanceEvent, Liveness

LOST_AFTER_S = 1.5  # the checked face out of view this long during the challenge: the challenge fails


class Phase(str, Enum):
    FACE = "face"  # looking for one face and recognising it
    CHALLENGE = "challenge"  # the recognised face must do what the screen asks
    DONE = "done"


@dataclass(frozen=True)
class Result:
    outcome: str  # recorded | unknown | uncertain | no_face | cancelled
    message: str  # for the screen, Bahasa Indonesia
    event: AttendanceEvent | None = None
    challenge_passed: bool | None = None


def largest(detections: list[Detection]) -> Detection | None:
    return max(detections, key=lambda d: d.size, default=None)


class CheckinSession:
    def __init__(self, agent: EdgeAgent, challenge: ActiveChallenge, *, face_timeout_s: float,
                 started_at: float, mesh: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None):
        self.agent, self.challenge, self.mesh = agent, challenge, mesh
        self.face_timeout_s, self.started_at = face_timeout_s, started_at
        # A decider of its own: no cooldown from earlier check-ins, no passive liveness wait.
        policy = dataclasses.replace(agent.decider.policy, cooldown_s=0.0, liveness_frames=0)
        self.decider = VisitDecider(agent.decider.gallery, policy, agent.decider.model_id)
        self.phase = Phase.FACE
        self.decision: Decision | None = None
        self.result: Result | None = None
        self.face_box: np.ndarray | None = None  # the face being checked, for the preview
        self._last_seen = started_at
        self._frames_with_face = 0

    # ------------------------------------------------------------------------------------------------
    def step(self, frame: Frame, detections: list[Detection]) -> Result | None:
        """Feed one frame and its face detections; returns the result once the check-in is over."""
        if self.phase is Phase.DONE:
            return self.result
        at = frame.at.timestamp()
        if self.phase is Phase.FACE:
            self._recognise(frame, detections, at)
        else:
            self._challenge(frame, detections, at)
        return self.result

    def cancel(self) -> Result:
        self.phase = Phase.DONE
        self.result = self.result or Result("cancelled", "Presensi dibatalkan.")
        return self.result

    # ------------------------------------------------------------------------------------------------
    def _recognise(self, frame: Frame, detections: list[Detection], at: float) -> None:
        det = largest(detections)
        self.face_box = det.box if det is not None else None
        faces = []
        if det is not None:
            self._frames_with_face += 1
            try:
                faces = [(det, self.agent.pipeline.analyse_detection(frame.rgb, det))]
            except BadImage:
                faces = []
        decisions = self.decider.update(faces, frame.at)
        if not decisions and at - self.started_at > self.face_timeout_s:
            decisions = self.decider.flush(frame.at)
            if not decisions:
                seen = self._frames_with_face > 0
                self._finish(Result("uncertain" if seen else "no_face",
                                    "Wajah belum dapat dipastikan. Hadapkan wajah ke kamera dengan cahaya cukup, "
                                    "lalu ulangi." if seen else
                                    "Tidak ada wajah terlihat. Hadapkan wajah ke kamera, lalu ulangi."))
                return
        for decision in decisions:
            if decision.employee_id is None:
                event = self.agent.record(decision, Liveness(method="none", passed=False, score=0.0))
                self._finish(Result("unknown", "Wajah tidak dikenali: tercatat sebagai wajah tak dikenal. "
                                               "Hubungi admin OPD bila Anda sudah terdaftar.", event))
                return
            self.decision, self.phase = decision, Phase.CHALLENGE
            self._last_seen = at
            return

    def _same_face(self, detections: list[Detection]) -> Detection | None:
        if self.face_box is None:
            return largest(detections)
        centre = (self.face_box[:2] + self.face_box[2:]) / 2
        size = float(max(self.face_box[2] - self.face_box[0], self.face_box[3] - self.face_box[1])) or 1.0
        best = min(detections, key=lambda d: float(np.linalg.norm(d.centre - centre)), default=None)
        if best is None or np.linalg.norm(best.centre - centre) > 1.2 * size or not 0.5 < best.size / size < 2:
            return None
        return best

    def _challenge(self, frame: Frame, detections: list[Detection], at: float) -> None:
        det = self._same_face(detections)
        if det is None:
            if at - self._last_seen > LOST_AFTER_S:
                self._record(frame, ChallengeState.FAILED, "Wajah hilang dari kamera sebelum tantangan selesai.")
            return
        self.face_box, self._last_seen = det.box, at
        mesh = self.mesh(frame.rgb, det.box) if self.challenge.needs_mesh and self.mesh else None
        outcome = self.challenge.feed(FaceSample(at, frame.rgb, det.box, det.keypoints, mesh))
        if outcome is not ChallengeState.PENDING:
            self._record(frame, outcome, "Waktu tantangan habis." if outcome is ChallengeState.TIMEOUT else
                         "Wajah tidak tampak sebagai wajah langsung (foto atau layar?).")

    def _record(self, frame: Frame, outcome: ChallengeState, why_failed: str) -> None:
        if self.decision is None:  # only the challenge phase records, and it starts with a decision
            raise RuntimeError("a check-in challenge ended before anyone was recognised")
        live = self.challenge.liveness()
        if outcome is not ChallengeState.PASSED and live.passed:  # the session, not the check, ended it
            live = live.model_copy(update={"passed": False})
        event = self.agent.record(dataclasses.replace(self.decision, decided_at=frame.at), live)
        if live.passed:
            message = "Presensi tercatat."
        else:
            message = (f"{why_failed} Presensi tercatat TANPA bukti keaktifan dan tidak akan dihitung "
                       "sebelum diperiksa admin. Silakan ulangi.")
        self._finish(Result("recorded", message, event, live.passed))

    def _finish(self, result: Result) -> None:
        self.result, self.phase = result, Phase.DONE
