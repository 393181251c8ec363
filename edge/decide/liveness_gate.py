"""Walk-past liveness judged over the whole track: decisions wait here for their track's verdict.

The decider may accept an identity after three frames; liveness needs more of the track (a walk-past
lasts 1-3 s). The gate measures every frame of every track (face mesh, texture, eyelids), holds each
decision until its track's verdict is conclusive (after `decide_after_s`), the track ends, or
`max_wait_s` passes, and then hands out (decision, liveness) so that every event carries its verdict
and the measured cues. Nothing is dropped here: a spoof or inconclusive verdict is recorded and the
hub lists it for review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.decide.visits import Decision
from edge.infer.cues import CueMeter, FrameCue
from edge.infer.detect import Detection
from edge.infer.liveness import PassivePolicy, judge_track
from hadir.contract import Liveness


@dataclass
class _TrackCues:
    first: datetime
    cues: list[FrameCue] = field(default_factory=list)
    judged_at: float = -1.0  # track age (s) of the last interim verdict

    def add(self, cue: FrameCue, limit: int) -> None:
        self.cues.append(cue)
        if len(self.cues) > limit:
            # Thin the older half so that the whole track stays covered at a bounded cost.
            half = len(self.cues) // 2
            self.cues = self.cues[:half:2] + self.cues[half:]


class LivenessGate:
    def __init__(self, meter: CueMeter, policy: PassivePolicy | None = None):
        self.meter, self.policy = meter, policy or PassivePolicy()
        self._tracks: dict[int, _TrackCues] = {}
        self._held: list[Decision] = []

    def observe(self, rgb: np.ndarray, assigned: list[tuple[int, Detection]], at: datetime) -> None:
        """Measure this frame's faces; `assigned` pairs each detection with its track id."""
        for track_id, detection in assigned:
            track = self._tracks.setdefault(track_id, _TrackCues(at))
            seconds = (at - track.first).total_seconds()
            track.add(self.meter.measure(rgb, detection.box, seconds), self.policy.max_cues)

    def verdict(self, track_id: int) -> Liveness:
        track = self._tracks.get(track_id)
        return judge_track(track.cues if track else [], self.policy)

    def collect(self, decisions: list[Decision], open_tracks: set[int], at: datetime
                ) -> list[tuple[Decision, Liveness]]:
        """Take new decisions; return those whose verdict is due, with it. Forget ended tracks."""
        self._held.extend(decisions)
        ready, waiting = [], []
        for decision in self._held:
            tid = decision.track_id
            track = self._tracks.get(tid)
            age = (at - track.first).total_seconds() if track else 0.0
            if tid not in open_tracks or age >= self.policy.max_wait_s:
                ready.append((decision, self.verdict(tid)))
                continue
            if age >= self.policy.decide_after_s and track is not None and age - track.judged_at >= 0.2:
                track.judged_at = age  # judging costs a few ms: a few times a second is enough
                verdict = self.verdict(tid)
                if verdict.result != "inconclusive":
                    ready.append((decision, verdict))
                    continue
            waiting.append(decision)
        self._held = waiting
        held_ids = {d.track_id for d in waiting}
        self._tracks = {tid: t for tid, t in self._tracks.items() if tid in open_tracks or tid in held_ids}
        return ready

    def flush(self) -> list[tuple[Decision, Liveness]]:
        """Release everything held (end of a video, agent stopping)."""
        out = [(d, self.verdict(d.track_id)) for d in self._held]
        self._held, self._tracks = [], {}
        return out
