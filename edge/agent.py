"""The edge agent: capture -> infer -> decide -> outbox -> publish, one frame at a time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.capture.base import Frame
from edge.clock import ClockGuard
from edge.decide.liveness_gate import LivenessGate
from edge.decide.visits import Decision, VisitDecider
from edge.gps.reader import GpsProvider
from edge.infer.liveness import LivenessCheck
from edge.infer.pipeline import BadImage, Face, FacePipeline
from edge.outbox.store import Outbox, OutboxFull
from hadir.contract import AttendanceEvent, ClockSource, EventKind, Liveness
from hadir.signing import sign_event

log = logging.getLogger(__name__)

# With no liveness check configured the event says so (method "none") instead of claiming a pass.
NO_LIVENESS = Liveness(method="none", passed=True, score=0.0)


@dataclass
class FrameStats:
    frames: int = 0
    faces: int = 0
    embeddings: int = 0
    infer_ms_total: float = 0.0

    @property
    def ms_per_frame(self) -> float:
        return self.infer_ms_total / max(self.frames, 1)


class EdgeAgent:
    def __init__(self, device_id: str, pipeline: FacePipeline, decider: VisitDecider, outbox: Outbox,
                 key: Ed25519PrivateKey, *, kind: EventKind = EventKind.WALK_PAST,
                 clock_source: ClockSource = ClockSource.NTP, gps: GpsProvider | None = None,
                 on_event=None, clock_guard: ClockGuard | None = None, liveness: LivenessCheck | None = None,
                 gate: LivenessGate | None = None):
        self.device_id, self.pipeline, self.decider, self.outbox = device_id, pipeline, decider, outbox
        self.key, self.kind, self.clock_source, self.gps = key, kind, clock_source, gps
        self.on_event = on_event
        self.liveness = liveness
        self.gate = gate  # walk-past liveness over the whole track: decisions wait for their verdict
        self.clock_guard = clock_guard or ClockGuard(clock_source, synchronised=lambda: None,
                                                     last_event_at=outbox.last_captured_at())
        self.stats = FrameStats()
        self._last_at = None  # time of the last frame processed (for finish())

    def _faces(self, frame: Frame) -> list[tuple]:
        detections = self.pipeline.detect(frame.rgb)
        out = []
        for det in detections:
            face: Face | None = None
            if self.decider.needs_embedding(det):
                face = self.pipeline.analyse_detection(frame.rgb, det)
                self.stats.embeddings += face.embedding is not None
            out.append((det, face))
        self.stats.faces += len(detections)
        return out

    def process(self, frame: Frame) -> list[AttendanceEvent]:
        started = time.perf_counter()
        self._last_at = frame.at
        try:
            faces = self._faces(frame)
        except BadImage as exc:
            log.warning("frame %d skipped: %s", frame.index, exc)
            faces = []
        decisions = self.decider.update(faces, frame.at)
        ready: list[tuple[Decision, Liveness | None]] = [(d, None) for d in decisions]
        if self.gate is not None:
            self.gate.observe(frame.rgb, self.decider.assigned, frame.at)
            ready = list(self.gate.collect(decisions, {t.track_id for t in self.decider.tracks}, frame.at))
        self.stats.frames += 1
        self.stats.infer_ms_total += (time.perf_counter() - started) * 1000
        return [self.record(d, live) for d, live in ready]

    def run(self, frames: Iterable[Frame]) -> Iterator[AttendanceEvent]:
        for frame in frames:
            yield from self.process(frame)
        yield from self.finish()

    def finish(self) -> list[AttendanceEvent]:
        """End of the source (or the agent stopping): decide every open track and record every decision
        still waiting for its liveness verdict, so that nothing seen is lost."""
        if self._last_at is None:
            return []
        at, self._last_at = self._last_at, None
        flushed = self.decider.flush(at)
        if self.gate is None:
            return [self.record(d) for d in flushed]
        return [self.record(d, live) for d, live in self.gate.collect(flushed, set(), at) + self.gate.flush()]

    def record(self, decision: Decision, live: Liveness | None = None) -> AttendanceEvent:
        """Turn a decision into a signed, chained event in the durable outbox; `live`: its liveness verdict
        (from the gate), else the configured per-decision check, else 'none'."""
        kind = EventKind.UNKNOWN_FACE if decision.employee_id is None else self.kind
        gps = self.gps.current() if self.gps else None
        clock = self.clock_guard.source_for(decision.decided_at)
        if live is None:
            live = self.liveness.assess(decision.landmarks) if self.liveness else NO_LIVENESS

        def build(seq: int, prev_hash: str) -> AttendanceEvent:
            event = AttendanceEvent(
                key=f"{self.device_id}:{seq}", device_id=self.device_id, seq=seq, kind=kind,
                employee_id=decision.employee_id, score=round(max(-1.0, min(1.0, decision.score)), 4),
                margin=round(min(2.0, decision.margin), 4), frames=decision.frames,
                quality=round(min(1.0, decision.quality), 4), liveness=live,
                captured_at=decision.decided_at, clock_source=clock, gps=gps,
                model_id=self.pipeline.model_id, gallery_version=self.decider.gallery.version,
                prev_hash=prev_hash)
            return sign_event(event, self.key)

        try:
            event = self.outbox.append(build)
        except OutboxFull:
            log.critical("OUTBOX FULL: decision for %s at %s could not be recorded",
                         decision.employee_id or "unknown", decision.decided_at)
            raise
        if self.on_event:
            self.on_event(event)
        return event
