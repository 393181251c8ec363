"""Run one device from its settings: the production entry point behind `hadir-edge run`."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge.agent import EdgeAgent
from edge.capture.factory import open_source
from edge.clock import ClockGuard
from edge.config import EdgeSettings, Recognition
from edge.decide.liveness_gate import LivenessGate
from edge.decide.visits import VisitDecider, policy_for
from edge.gallery_sync import apply_update
from edge.gps.reader import FixedSite, GpsdReader, GpsProvider
from edge.infer.cues import CueMeter
from edge.infer.gallery import Gallery
from edge.infer.liveness import LivenessCheck, PassivePolicy, PlanarityCheck
from edge.infer.pipeline import FacePipeline
from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import Assignments, EventKind, Telemetry, utcnow
from hadir.sealed import load_box_key
from hadir.signing import load_private_key, load_public_key

log = logging.getLogger(__name__)


class SetupError(RuntimeError):
    """The device is not provisioned or configured well enough to start; the message says what to do."""


def gps_provider(settings: EdgeSettings) -> GpsProvider | None:
    gps = settings.gps
    if gps.mode == "fixed":
        if gps.lat is None or gps.lon is None:
            raise SetupError("gps.mode = 'fixed' needs gps.lat and gps.lon (the terminal's surveyed position)")
        return FixedSite(gps.lat, gps.lon)
    if gps.mode == "gpsd":
        return GpsdReader(gps.gpsd_host, gps.gpsd_port).start()
    return None


def cpu_temperature() -> float | None:
    try:
        with open("/sys/class/thermal/thermal_zone0/temp") as fh:
            return int(fh.read().strip()) / 1000
    except (OSError, ValueError):
        return None


def recognition(rec: Recognition, gallery: Gallery | None
                ) -> tuple[FacePipeline, VisitDecider, LivenessCheck | None, LivenessGate | None]:
    """The configured pipeline (detector, embedder, threads), visit decider, per-decision liveness check
    ("planarity") and whole-track liveness gate ("passive": decisions wait for the track's verdict).

    `gallery` None gives an empty gallery of the configured embedder (every face is then 'unknown').
    Thresholds left unset in the config come from the embedder's manifest entry.
    """
    live = rec.liveness == "planarity"
    pipeline = FacePipeline(detector=rec.detector, threads=rec.threads, mesh=live, embedder=rec.embedder,
                            min_face_px=rec.min_face_px, tiles_per_frame=rec.tiles_per_frame)
    if gallery is None:
        gallery = Gallery(pipeline.model_id, 0, [], np.zeros((0, pipeline.embedder.dim), np.float32))
    policy = policy_for(rec, pipeline.embedder, live)
    gate = None
    if rec.liveness == "passive":
        gate = LivenessGate(CueMeter(rec.threads, mesh=None), PassivePolicy(
            min_seconds=rec.liveness_min_seconds, max_wait_s=rec.liveness_max_wait_s))
    return pipeline, VisitDecider(gallery, policy, pipeline.model_id), PlanarityCheck() if live else None, gate


@dataclass
class Device:
    """The parts every mode of a device shares: keys, gallery and recogniser, outbox, hub link, GPS."""

    settings: EdgeSettings
    pipeline: FacePipeline
    decider: VisitDecider
    outbox: Outbox
    link: DeviceLink
    gps: GpsProvider | None
    agent: EdgeAgent
    started: float = field(default_factory=time.monotonic)
    _last_telemetry: float = 0.0

    def telemetry_due(self) -> None:
        """Publish telemetry when `telemetry_every_s` has passed (dropped silently while offline: QoS 0)."""
        now = time.monotonic()
        if now - self._last_telemetry < self.settings.telemetry_every_s:
            return
        alarm = self.outbox.disk_alarm()
        if alarm:
            log.error(alarm)
        stats = self.agent.stats
        self.link.publish_telemetry(Telemetry(
            device_id=self.settings.device_id, at=utcnow(), inference_ms=stats.ms_per_frame,
            fps=stats.frames / max(now - self.started, 1e-6), outbox_depth=self.outbox.depth(),
            outbox_free_mb=self.outbox.free_mb(), temperature_c=cpu_temperature(),
            gps_state=self.gps.state() if self.gps else "absent"))  # type: ignore[arg-type]
        self._last_telemetry = now

    def close(self) -> None:
        self.link.wait_drained(5)  # a last chance to deliver; offline, the outbox keeps them for next start
        self.link.stop(clean=True)
        if isinstance(self.gps, GpsdReader):
            self.gps.stop()
        self.outbox.close()


def open_device(settings: EdgeSettings, *, kind: EventKind | None = None, passive_liveness: bool = True,
                on_assignments: Callable[[Assignments], bool] | None = None) -> Device:
    """Load the key and gallery, open the outbox and start the hub link (in the background: the broker
    may be unreachable for hours, events wait in the outbox). SetupError when not provisioned."""
    if not settings.key_path.is_file():
        raise SetupError(f"no device key at {settings.key_path}: provision the device with "
                         f"'hadir device provision {settings.device_id}' and copy its bundle here")
    key = load_private_key(settings.key_path)
    if not settings.hub_key_path.is_file():
        raise SetupError(f"no hub public key at {settings.hub_key_path}: the device cannot tell the hub's "
                         "acknowledgements from forged ones; re-provision with 'hadir device provision --hub-data'")
    hub_key = load_public_key(settings.hub_key_path)
    box_key = load_box_key(settings.box_key_path) if settings.box_key_path.is_file() else None
    if box_key is None:
        log.warning("no gallery key at %s: galleries from the hub cannot be opened", settings.box_key_path)
    if settings.gallery_path.is_file():
        gallery = Gallery.load(settings.gallery_path)
    else:
        log.warning("no gallery at %s yet: every face is 'unknown' until the hub pushes one", settings.gallery_path)
        gallery = None
    rec = settings.recognition if passive_liveness else settings.recognition.model_copy(update={"liveness": "none"})
    pipeline, decider, liveness, gate = recognition(rec, gallery)
    outbox = Outbox(settings.outbox_path)
    link = DeviceLink(settings.mqtt, settings.device_id, outbox, hub_key=hub_key, signer=key,
                      model_id=decider.gallery.model_id, gallery_version=decider.gallery.version,
                      on_gallery=lambda update: box_key is not None and apply_update(
                          update, decider, settings.gallery_path, box_key),
                      on_assignments=on_assignments)
    gps = gps_provider(settings)
    agent = EdgeAgent(settings.device_id, pipeline, decider, outbox, key,
                      kind=kind or settings.kind, clock_source=settings.clock_source, gps=gps,
                      on_event=lambda e: link.notify(),
                      clock_guard=ClockGuard(settings.clock_source, last_event_at=outbox.last_captured_at()),
                      liveness=liveness, gate=gate)
    link.start()
    return Device(settings, pipeline, decider, outbox, link, gps, agent)


def run_device(settings: EdgeSettings, stop: threading.Event | None = None, max_frames: int | None = None) -> int:
    """Walk-past mode: process frames until `stop` is set, the source ends or `max_frames`; returns events
    recorded. Starts and records with the broker unreachable; delivers when it can connect."""
    stop = stop or threading.Event()
    device = open_device(settings)
    agent = device.agent
    recorded = 0
    try:
        source = open_source(settings.source)
    except BaseException:
        device.close()
        raise
    try:
        for frame in source.frames():
            recorded += len(agent.process(frame))
            device.telemetry_due()
            if stop.is_set() or (max_frames is not None and agent.stats.frames >= max_frames):
                break
        recorded += len(agent.finish())  # decisions still open or waiting for liveness are not dropped
    finally:
        source.close()
        device.close()
    return recorded


def install_signal_handlers(stop: threading.Event) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
