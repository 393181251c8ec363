"""One decision per person passing: track faces across frames, combine them, decide once per visit.

A track collects quality-weighted embeddings of one face. It is decided as soon as enough consistent
frames agree on an enrolled identity (low latency for someone walking past), or, when it ends without
such agreement, as one "unknown" decision. A cooldown per identity stops a person who lingers, or is
lost and re-found, from producing a second event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from edge.infer.detect import Detection
from edge.infer.embed import normalise
from edge.infer.gallery import Gallery, Match
from edge.infer.pipeline import Face


@dataclass(frozen=True)
class DecisionPolicy:
    accept: float = 0.92  # combined-track cosine at or above which an identity is accepted
    unknown_below: float = 0.915  # below this the track is an unknown person
    min_margin: float = 0.01  # best minus second-best identity
    min_frames: int = 3  # good frames before any decision
    liveness_frames: int = 0  # with a liveness check: wait for this many frames (unless the track ends)
    max_embeddings: int = 12  # an undecided track keeps its best this-many frames
    track_timeout_s: float = 0.6  # a track not seen this long has ended
    cooldown_s: float = 120.0  # same identity again within this time: no second event
    max_jump: float = 1.2  # association: centre may move this many face sizes between frames


@dataclass(frozen=True)
class Decision:
    employee_id: str | None  # None: unknown person
    score: float
    margin: float
    frames: int
    quality: float
    first_seen: datetime
    decided_at: datetime
    track_id: int
    landmarks: tuple[np.ndarray, ...] = field(repr=False, default=())  # face mesh per embedded frame


@dataclass
class Track:
    track_id: int
    last: Detection
    first_seen: datetime
    last_seen: datetime
    embeddings: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    votes: list[str | None] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    decided: bool = False

    def combined(self) -> np.ndarray:
        w = np.asarray(self.weights, dtype=np.float32)[:, None]
        return normalise((np.stack(self.embeddings) * w).sum(0))


class VisitDecider:
    """Feed it the faces of each frame (in time order); it returns decisions as they are made."""

    def __init__(self, gallery: Gallery, policy: DecisionPolicy, model_id: str):
        self.gallery, self.policy, self.model_id = gallery, policy, model_id
        self.tracks: list[Track] = []
        self._next_id = 1
        self._recent: dict[str, datetime] = {}  # identity -> last decision time (cooldown)
        self._recent_unknown: list[tuple[np.ndarray, datetime]] = []
        self.assigned: list[tuple[int, Detection]] = []  # last update: track id of each face (liveness gate)

    def needs_embedding(self, detection: Detection) -> bool:
        """Whether a face in this frame is worth embedding: only for tracks still undecided."""
        track = self._associate(detection, remove=False)
        return track is None or not track.decided

    def update(self, faces: list[tuple[Detection, Face | None]], at: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        seen: set[int] = set()
        self.assigned = []
        for detection, face in faces:
            track = self._associate(detection, remove=False, exclude=seen)
            if track is None:
                track = Track(self._next_id, detection, at, at)
                self._next_id += 1
                self.tracks.append(track)
            seen.add(track.track_id)
            self.assigned.append((track.track_id, detection))
            track.last, track.last_seen = detection, at
            if face is not None and face.embedding is not None and not track.decided:
                match = self.gallery.search(face.embedding, self.model_id)
                weight = max(face.quality.score, 1e-3)
                if len(track.embeddings) >= self.policy.max_embeddings:
                    # Keep the best frames: a face approaching the camera gets bigger and sharper, so late
                    # frames replace the small, blurred early ones.
                    worst = int(np.argmin(track.weights))
                    if weight <= track.weights[worst]:
                        continue
                    for items in (track.embeddings, track.weights, track.votes):
                        del items[worst]
                track.embeddings.append(face.embedding)
                track.weights.append(weight)
                track.votes.append(match.employee_id if self._accepts(match) else None)
                if face.mesh is not None:
                    track.landmarks.append(face.mesh)
                    del track.landmarks[:-30]  # liveness needs a few spread-out frames, not all of them
                decision = self._try_accept(track, at)
                if decision:
                    decisions.append(decision)
        decisions.extend(self._expire(at))
        return decisions

    def flush(self, at: datetime) -> list[Decision]:
        """End every open track (end of a video, agent stopping)."""
        return self._expire(at + timedelta(days=1), decided_at=at)

    # ------------------------------------------------------------------------------------------------

    def _accepts(self, match: Match) -> bool:
        return (match.employee_id is not None and match.score >= self.policy.accept
                and match.margin >= self.policy.min_margin)

    def _associate(self, det: Detection, remove: bool, exclude: set[int] | None = None) -> Track | None:
        best, best_dist = None, float("inf")
        for track in self.tracks:
            if exclude and track.track_id in exclude:
                continue
            dist = float(np.linalg.norm(det.centre - track.last.centre)) / max(track.last.size, 1.0)
            ratio = det.size / max(track.last.size, 1.0)
            if dist < self.policy.max_jump and 0.5 < ratio < 2.0 and dist < best_dist:
                best, best_dist = track, dist
        return best

    def _try_accept(self, track: Track, at: datetime) -> Decision | None:
        if len(track.embeddings) < max(self.policy.min_frames, self.policy.liveness_frames):
            return None
        match = self.gallery.search(track.combined(), self.model_id)
        consistent = sum(v == match.employee_id for v in track.votes)
        if not self._accepts(match) or consistent < self.policy.min_frames:
            return None
        track.decided = True
        if self._cooling(match.employee_id, at):
            return None
        self._recent[match.employee_id] = at
        return self._decision(track, match, at)

    def _cooling(self, employee_id: str, at: datetime) -> bool:
        last = self._recent.get(employee_id)
        return last is not None and (at - last).total_seconds() < self.policy.cooldown_s

    def _expire(self, at: datetime, decided_at: datetime | None = None) -> list[Decision]:
        out = []
        alive = []
        for track in self.tracks:
            if (at - track.last_seen).total_seconds() <= self.policy.track_timeout_s:
                alive.append(track)
                continue
            if track.decided or len(track.embeddings) < self.policy.min_frames:
                continue  # decided already, or too few good frames to say anything
            when = decided_at or track.last_seen
            combined = track.combined()
            match = self.gallery.search(combined, self.model_id)
            if self._accepts(match) and not self._cooling(match.employee_id, when):
                self._recent[match.employee_id] = when
                out.append(self._decision(track, match, when))
            elif match.score < self.policy.unknown_below and not self._unknown_cooling(combined, when):
                self._recent_unknown.append((combined, when))
                out.append(self._decision(track, Match(None, match.score, match.employee_id,
                                                       match.second_score), when))
            # Between the thresholds: not sure either way, so no event (never guess an identity).
        self.tracks = alive
        return out

    def _unknown_cooling(self, embedding: np.ndarray, at: datetime) -> bool:
        cutoff = self.policy.cooldown_s
        self._recent_unknown = [(e, t) for e, t in self._recent_unknown if (at - t).total_seconds() < cutoff]
        return any(float(e @ embedding) >= self.policy.accept for e, _ in self._recent_unknown)

    def _decision(self, track: Track, match: Match, at: datetime) -> Decision:
        margin = match.margin if match.employee_id else 0.0
        return Decision(
            employee_id=match.employee_id, score=float(match.score), margin=float(margin),
            frames=len(track.embeddings), quality=float(np.mean(track.weights)),
            first_seen=track.first_seen, decided_at=at, track_id=track.track_id,
            landmarks=tuple(track.landmarks))


