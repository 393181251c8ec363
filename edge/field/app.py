"""`hadir-edge field`: the device agent for staff on duty, with its touch page on http://127.0.0.1:<port>.

It starts with or without the broker: assignments come from the device's disk until the hub sends newer
ones, check-ins wait in the outbox until the link is back.
"""

from __future__ import annotations

import logging
import threading

from edge.capture.factory import open_source
from edge.config import EdgeSettings
from edge.field.assignments import AssignmentBook
from edge.field.server import FieldServer
from edge.field.station import FieldStation
from edge.runner import open_device
from hadir.contract import EventKind
from hadir.signing import load_public_key

log = logging.getLogger(__name__)


def run_field(settings: EdgeSettings, stop: threading.Event | None = None,
              on_ready=None) -> int:  # noqa: ANN001 - on_ready(FieldServer), for tests and the CLI's message
    """Serve the touch page and run the camera until `stop`; returns the check-ins recorded."""
    stop = stop or threading.Event()
    hub_key = load_public_key(settings.hub_key_path) if settings.hub_key_path.is_file() else None
    if hub_key is None:
        log.error("no hub public key at %s: assignments from the hub cannot be verified and are refused; "
                  "copy hub.pub from the device bundle", settings.hub_key_path)
    book = AssignmentBook(settings.assignments_path, settings.device_id, hub_key)
    device = open_device(settings, kind=EventKind.FIELD_CHECKIN, passive_liveness=False, on_assignments=book.apply)
    station = FieldStation(device, book, settings.field)
    try:
        server = FieldServer(station, settings.field.port).start()
    except OSError:
        device.close()
        raise
    log.info("field page on http://127.0.0.1:%d", server.port)
    if on_ready:
        on_ready(server)
    source = None
    try:
        source = open_source(settings.source)
        for frame in source.frames():
            station.step(frame)
            device.telemetry_due()
            if stop.is_set():
                break
    finally:
        if source is not None:
            source.close()
        server.stop()
        device.close()
    return station.recorded
