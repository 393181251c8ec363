"""Run one device from its settings: the production entry point behind `hadir-edge run`."""

from __future__ import annotations

import logging
import signal
import threading
import time

import numpy as np

from edge.agent import EdgeAgent
from edge.capture.factory import open_source
from edge.clock import ClockGuard
from edge.config import EdgeSettings
from edge.decide.visits import DecisionPolicy, VisitDecider
from edge.gallery_sync import apply_update
from edge.gps.reader import FixedSite, GpsdReader, GpsProvider
from edge.infer.gallery import Gallery
from edge.infer.liveness import PlanarityCheck
from edge.infer.pipeline import FacePipeline
from edge.outbox.store import Outbox
from edge.publish.link import DeviceLink
from hadir.contract import Telemetry, utcnow
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


def run_device(settings: EdgeSettings, stop: threading.Event | None = None, max_frames: int | None = None) -> int:
    """Process frames until `stop` is set, the source ends or `max_frames`; returns events recorded."""
    stop = stop or threading.Event()
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
    rec = settings.recognition
    live = rec.liveness == "planarity"
    pipeline = FacePipeline(detector=rec.detector, threads=rec.threads, mesh=live, embedder=rec.embedder)
    if settings.gallery_path.is_file():
        gallery = Gallery.load(settings.gallery_path)
    else:
        log.warning("no gallery at %s yet: every face is 'unknown' until the hub pushes one", settings.gallery_path)
        gallery = Gallery(pipeline.model_id, 0, [], np.zeros((0, pipeline.embedder.dim), np.float32))
    emb = pipeline.embedder
    policy = DecisionPolicy(accept=emb.default_accept if rec.accept is None else rec.accept,
                            unknown_below=emb.default_unknown_below if rec.unknown_below is None else rec.unknown_below,
                            min_margin=rec.min_margin,
                            min_frames=rec.min_frames, cooldown_s=rec.cooldown_s,
                            liveness_frames=rec.liveness_frames if live else 0)
    outbox = Outbox(settings.outbox_path)
    decider = VisitDecider(gallery, policy, pipeline.model_id)
    link = DeviceLink(settings.mqtt, settings.device_id, outbox, hub_key=hub_key, signer=key,
                      model_id=gallery.model_id, gallery_version=gallery.version,
                      on_gallery=lambda update: box_key is not None and apply_update(
                          update, decider, settings.gallery_path, box_key))
    gps = gps_provider(settings)
    agent = EdgeAgent(settings.device_id, pipeline, decider, outbox, key,
                      kind=settings.kind, clock_source=settings.clock_source, gps=gps,
                      on_event=lambda e: link.notify(),
                      clock_guard=ClockGuard(settings.clock_source, last_event_at=outbox.last_captured_at()),
                      liveness=PlanarityCheck() if live else None)
    link.start()
    source = open_source(settings.source)
    recorded, last_telemetry, started = 0, 0.0, time.monotonic()
    try:
        for frame in source.frames():
            recorded += len(agent.process(frame))
            now = time.monotonic()
            if now - last_telemetry >= settings.telemetry_every_s:
                alarm = outbox.disk_alarm()
                if alarm:
                    log.error(alarm)
                link.publish_telemetry(Telemetry(
                    device_id=settings.device_id, at=utcnow(), inference_ms=agent.stats.ms_per_frame,
                    fps=agent.stats.frames / max(now - started, 1e-6), outbox_depth=outbox.depth(),
                    outbox_free_mb=outbox.free_mb(), temperature_c=cpu_temperature(),
                    gps_state=gps.state() if gps else "absent"))  # type: ignore[arg-type]
                last_telemetry = now
            if stop.is_set() or (max_frames is not None and agent.stats.frames >= max_frames):
                break
    finally:
        source.close()
        link.wait_drained(5)
        link.stop(clean=True)
        outbox.close()
    return recorded


def install_signal_handlers(stop: threading.Event) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
