"""One decision per person passing: track faces across frames, combine them, decide once per visit.

A track collects quality-weighted embeddings of one face. It is accepted as an enrolled person as soon
as (a) the combined template reaches the accept threshold, (b) it leads the next alternative by the
margin, where "a stranger" is always an alternative scoring `unknown_below` (so a gallery of one person
is held to the same rule), and (c) enough of the frames, each judged alone, point at the same person.
When the track ends without that, it is "unknown" if the combined score is below `unknown_below`;
otherwise the evidence is not enough either way: no event, and the terminal says so on the spot
(a `Notice` in Bahasa Indonesia) instead of guessing. Thresholds are set for a target share of
strangers accepted at the gallery's size (`edge.calibrate`, `hadir-edge calibrate`). A cooldown per
identity stops a person who lingers, or is lost and re-found, from producing a second event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from edge.config import Recognition
from edge.infer.detect import Detection
from edge.infer.embed import Embedder, normalise
from edge.infer.gallery import Gallery, Match
from edge.infer.pipeline import Face


@dataclass(frozen=True)
class DecisionPolicy:
    # Shipped for dlib_resnet_v1 (edge/models/manifest.json; docs/accuracy.md says how they were chosen).
    accept: float = 0.96  # combined-track cosine at or above which an identity is accepted
    unknown_below: float = 0.945  # below this the track is an unknown person
    min_margin: float = 0.01  # lead over the next alternative (second identity, or a stranger at unknown_below)
    min_frames: int = 2  # frames that must point at the accepted identity, each on its own
    min_agreement: float = 0.5  # ... and at least this share of the track's embedded frames
    liveness_frames: int = 0  # with a liveness check: wait for this many frames (unless the track ends)
    max_embeddings: int = 12  # an undecided track keeps its best this-many frames
    track_timeout_s: float = 0.6  # a track not seen this long has ended
    cooldown_s: float = 120.0  # same identity again within this time: no second event
    max_jump: float = 1.2  # association: centre may move this many face sizes between frames


def policy_for(recognition: Recognition, embedder: Embedder, liveness: bool) -> DecisionPolicy:
    """The shipped decision policy from the device settings: thresholds written by calibration, else
    the embedder's defaults from the manifest."""
    rec = recognition
    return DecisionPolicy(
        accept=embedder.default_accept if rec.accept is None else rec.accept,
        unknown_below=embedder.default_unknown_below if rec.unknown_below is None else rec.unknown_below,
        min_margin=rec.min_margin, min_frames=rec.min_frames, min_agreement=rec.min_agreement,
        cooldown_s=rec.cooldown_s, liveness_frames=rec.liveness_frames if liveness else 0)


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


log = logging.getLogger(__name__)
MAX_PENDING_NOTICES = 50  # nobody draining them (no screen attached) must not grow memory

# What the terminal says when a track ends without enough evidence (shown on its screen, spoken, logged).
MESSAGES = {
    "insufficient": "Wajah belum dikenali, silakan menghadap kamera.",
    "too_small": "Wajah terlalu jauh, silakan mendekat ke kamera.",
    "exposure": "Cahaya kurang, silakan menghadap kamera di tempat yang lebih terang.",
    "turned_away": "Wajah belum dikenali, silakan menghadap kamera.",
}


@dataclass(frozen=True)
class Notice:
    """Insufficient evidence for a track: no event is recorded, the person is told at once."""

    track_id: int
    at: datetime
    reason: str  # key of MESSAGES
    score: float  # best combined score reached (-1 when nothing was embedded)

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


@dataclass
class Track:
    track_id: int
    last: Detection
    first_seen: datetime
    last_seen: datetime
    embeddings: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    votes: list[str | None] = field(default_factory=list)  # each frame's own best identity
    landmarks: list[np.ndarray] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why frames were not embedded (quality)
    decided: bool = False

    def combined(self) -> np.ndarray:
        w = np.asarray(self.weights, dtype=np.float32)[:, None]
        return normalise((np.stack(self.embeddings) * w).sum(0))


class VisitDecider:
    """Feed it the faces of each frame (in time order); it returns decisions as they are made."""

    def __init__(self, gallery: Gallery, policy: DecisionPolicy, model_id: str):
        self.gallery, self.policy, self.model_id = gallery, policy, model_id
        self.tracks: list[Track] = []
        self.notices: list[Notice] = []  # drained by whoever shows them (take_notices)
        self._next_id = 1
        self._recent: dict[str, datetime] = {}  # identity -> last decision time (cooldown)
        self._recent_unknown: list[tuple[np.ndarray, datetime]] = []
        self.assigned: list[tuple[int, Detection]] = []  # last update: track id of each face (liveness gate)

    def needs_embedding(self, detection: Detection) -> bool:
        """Whether a face in this frame is worth embedding: only for tracks still undecided."""
        track = self._associate(detection, remove=False)
        return track is None or not track.decided

    def take_notices(self) -> list[Notice]:
        out, self.notices = self.notices, []
        return out

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
            if face is not None and face.embedding is None and not track.decided:
                track.refusals.extend(face.quality.refusals)
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
                track.votes.append(match.employee_id)
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

    def lead(self, match: Match) -> float:
        """How far the best identity is ahead of the next alternative: the second identity, or a
        stranger, who always stands at `unknown_below` (with one person enrolled there is no second
        identity, and the margin must not come for free)."""
        return match.score - max(match.second_score, self.policy.unknown_below)

    def accepts(self, match: Match, votes: list[str | None]) -> bool:
        """The decision rule for a track's combined template (`match`) and its frames' own votes."""
        if match.employee_id is None or match.score < self.policy.accept:
            return False
        if self.lead(match) < self.policy.min_margin:
            return False
        agreeing = sum(v == match.employee_id for v in votes)
        return agreeing >= self.policy.min_frames and agreeing >= self.policy.min_agreement * len(votes)

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
        if not self.accepts(match, track.votes):
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
            if track.decided:
                continue
            when = decided_at or track.last_seen
            if len(track.embeddings) < self.policy.min_frames:
                self._notice_if_seen(track, when, -1.0 if not track.embeddings else
                                     self.gallery.search(track.combined(), self.model_id).score)
                continue
            combined = track.combined()
            match = self.gallery.search(combined, self.model_id)
            if self.accepts(match, track.votes):
                if not self._cooling(match.employee_id, when):
                    self._recent[match.employee_id] = when
                    out.append(self._decision(track, match, when))
            elif match.score < self.policy.unknown_below:
                if not self._unknown_cooling(combined, when):
                    self._recent_unknown.append((combined, when))
                    out.append(self._decision(track, Match(None, match.score, match.employee_id,
                                                           match.second_score), when))
            else:
                # Close to someone enrolled but not enough to name them: never guess; say so at once.
                self._notify(Notice(track.track_id, when, "insufficient", match.score))
        self.tracks = alive
        return out

    def _notice_if_seen(self, track: Track, at: datetime, score: float) -> None:
        """A face was there but too few usable frames: tell the person why (a single stray detection,
        never embedded nor refused, says nothing)."""
        if not track.embeddings and not track.refusals:
            return
        reason = max(set(track.refusals), key=track.refusals.count) if track.refusals else "insufficient"
        self._notify(Notice(track.track_id, at, reason, score))

    def _notify(self, notice: Notice) -> None:
        log.info("track %d: %s (best score %.3f)", notice.track_id, notice.message, notice.score)
        self.notices.append(notice)
        del self.notices[:-MAX_PENDING_NOTICES]

    def _unknown_cooling(self, embedding: np.ndarray, at: datetime) -> bool:
        cutoff = self.policy.cooldown_s
        self._recent_unknown = [(e, t) for e, t in self._recent_unknown if (at - t).total_seconds() < cutoff]
        return any(float(e @ embedding) >= self.policy.accept for e, _ in self._recent_unknown)

    def _decision(self, track: Track, match: Match, at: datetime) -> Decision:
        margin = max(0.0, self.lead(match)) if match.employee_id else 0.0
        return Decision(
            employee_id=match.employee_id, score=float(match.score), margin=float(margin),
            frames=len(track.embeddings), quality=float(np.mean(track.weights)),
            first_seen=track.first_seen, decided_at=at, track_id=track.track_id,
            landmarks=tuple(track.landmarks))


