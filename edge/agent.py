"""The edge agent: capture -> infer -> decide -> outbox -> publish, one frame at a time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.capture.base import Frame
from edge.clock import ClockGuard
from edge.decide.liveness_gate import LivenessGate
from edge.decide.visits import Decision, Notice, VisitDecider
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
    """Frames in, visit decisions out; with an outbox and a signing key, each decision becomes a signed event.

    Without them (`hadir-edge recognize`) it only decides: `decide` / `decisions`, never `record`.
    """

    def __init__(self, device_id: str, pipeline: FacePipeline, decider: VisitDecider, outbox: Outbox | None,
                 key: Ed25519PrivateKey | None, *, kind: EventKind = EventKind.WALK_PAST,
                 clock_source: ClockSource = ClockSource.NTP, gps: GpsProvider | None = None,
                 on_event=None, clock_guard: ClockGuard | None = None, liveness: LivenessCheck | None = None,
                 on_notice: Callable[[Notice], None] | None = None, gate: LivenessGate | None = None):
        self.device_id, self.pipeline, self.decider, self.outbox = device_id, pipeline, decider, outbox
        self.key, self.kind, self.clock_source, self.gps = key, kind, clock_source, gps
        self.on_event = on_event
        # What the terminal's screen says at once ("Wajah belum dikenali, ..."): logged unless a screen shows it.
        self.on_notice = on_notice or (lambda n: log.info("track %s: %s", n.track_id, n.message))
        self.liveness = liveness
        self.gate = gate  # walk-past liveness over the whole track: decisions wait for their verdict
        self.clock_guard = clock_guard or ClockGuard(clock_source, synchronised=lambda: None,
                                                     last_event_at=outbox.last_captured_at() if outbox else None)
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

    def decide(self, frame: Frame) -> list[tuple[Decision, Liveness | None]]:
        """One frame through detection, recognition, the visit decider and the liveness gate: the decisions
        released by it, each with its liveness verdict (None: the per-decision check decides)."""
        started = time.perf_counter()
        self._last_at = frame.at
        try:
            faces = self._faces(frame)
        except BadImage as exc:
            log.warning("frame %d skipped: %s", frame.index, exc)
            faces = []
        decisions = self.decider.update(faces, frame.at)
        for notice in self.decider.take_notices():
            self.on_notice(notice)
        ready: list[tuple[Decision, Liveness | None]] = [(d, None) for d in decisions]
        if self.gate is not None:
            self.gate.observe(frame.rgb, self.decider.assigned, frame.at)
            ready = list(self.gate.collect(decisions, {t.track_id for t in self.decider.tracks}, frame.at))
        self.stats.frames += 1
        self.stats.infer_ms_total += (time.perf_counter() - started) * 1000
        return ready

    def end(self) -> list[tuple[Decision, Liveness | None]]:
        """End of the source (or the agent stopping): decide every open track and release every decision
        still waiting for its liveness verdict, so that nothing seen is lost."""
        if self._last_at is None:
            return []
        at, self._last_at = self._last_at, None
        flushed = self.decider.flush(at)
        for notice in self.decider.take_notices():
            self.on_notice(notice)
        if self.gate is None:
            return [(d, None) for d in flushed]
        return list(self.gate.collect(flushed, set(), at)) + list(self.gate.flush())

    def decisions(self, frames: Iterable[Frame]) -> Iterator[tuple[Decision, Liveness | None]]:
        """Every (decision, liveness verdict or None) over a finite stream, the last open visits included;
        nothing is recorded (`hadir-edge recognize`)."""
        for frame in frames:
            yield from self.decide(frame)
        yield from self.end()

    def process(self, frame: Frame) -> list[AttendanceEvent]:
        """Decide on one frame and record each released decision as a signed event in the outbox."""
        return [self.record(d, live) for d, live in self.decide(frame)]

    def run(self, frames: Iterable[Frame]) -> Iterator[AttendanceEvent]:
        """Record every decision over a finite stream (a file or folder), the last open visits included."""
        for decision, live in self.decisions(frames):
            yield self.record(decision, live)

    def finish(self) -> list[AttendanceEvent]:
        """Record what `end` releases (the agent stopping)."""
        return [self.record(d, live) for d, live in self.end()]

    def record(self, decision: Decision, live: Liveness | None = None) -> AttendanceEvent:
        """Turn a decision into a signed, chained event in the durable outbox; `live`: its liveness verdict
        (from the gate), else the configured per-decision check, else 'none'. RuntimeError without an outbox."""
        if self.outbox is None or self.key is None:
            raise RuntimeError("this agent only decides: it has no outbox or signing key to record events")
        kind = EventKind.UNKNOWN_FACE if decision.employee_id is None else self.kind
        gps = self.gps.current() if self.gps else None
        clock = self.clock_guard.source_for(decision.decided_at, gps)
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
