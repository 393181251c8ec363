"""The device's one MQTT session: publishes the outbox, receives acknowledgements, reports its state.

Nothing else on the device talks to the broker. Events leave the outbox only when the hub's Ack names
them, so a broker that drops messages (Mosquitto's queue limit, a crash before autosave) loses nothing:
unacknowledged events are sent again after `resend_after_s`.

The link connects in the background and keeps retrying, so the device starts, recognises and records
with the broker unreachable (out of signal, hub down) and delivers once it can connect.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime

import paho.mqtt.client as mqtt

from edge.outbox.store import Outbox
from hadir.contract import (
    Ack,
    Assignments,
    Channel,
    ContractError,
    DeviceState,
    GalleryUpdate,
    Telemetry,
    parse,
    topic,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect_in_background, make_client

log = logging.getLogger(__name__)


class DeviceLink:
    def __init__(self, settings: MqttSettings, device_id: str, outbox: Outbox, *, software: str = "hadir",
                 model_id: str = "", gallery_version: int = 0, resend_after_s: float = 10.0,
                 batch: int = 200, on_gallery: Callable[[GalleryUpdate], bool] | None = None,
                 on_assignments: Callable[[Assignments], bool] | None = None):
        self.settings, self.device_id, self.outbox = settings, device_id, outbox
        self.resend_after_s, self.batch = resend_after_s, batch
        self.model_id, self.gallery_version, self.software = model_id, gallery_version, software
        self.on_gallery, self.on_assignments = on_gallery, on_assignments
        self.client = make_client(settings, client_id=device_id)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.will_set(topic(device_id, Channel.STATE), self._state("offline"), qos=1, retain=True)
        self.connected = threading.Event()
        self.acked = 0
        self.rejected: dict[str, str] = {}
        self.last_ack_at: datetime | None = None  # when the hub last confirmed storing events of ours
        self.connect_error = ""  # why the last connection attempt failed, for the device's screen
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None

    def _state(self, state: str) -> bytes:
        return DeviceState(device_id=self.device_id, state=state, at=utcnow(), software=self.software,
                           model_id=self.model_id, gallery_version=self.gallery_version,
                           last_seq=self.outbox.last_seq()).model_dump_json().encode()

    # -- MQTT callbacks (paho's network thread) -------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if getattr(reason_code, "is_failure", False):
            log.error("broker refused %s: %s", self.device_id, reason_code)
            self.connect_error = f"broker refused: {reason_code}"
            return
        self.connect_error = ""
        client.subscribe(topic(self.device_id, Channel.ACK), qos=1)
        client.subscribe(topic(self.device_id, Channel.GALLERY), qos=1)
        client.subscribe(topic(self.device_id, Channel.ASSIGNMENTS), qos=1)
        client.publish(topic(self.device_id, Channel.STATE), self._state("online"), qos=1, retain=True)
        self.connected.set()
        self._wake.set()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        try:
            _, channel, ack = parse(message.topic, message.payload, "down")
        except ContractError as exc:
            log.warning("ignored message on %s: %s", message.topic, exc)
            return
        if channel is Channel.GALLERY and isinstance(ack, GalleryUpdate):
            if self.on_gallery and self.on_gallery(ack):
                # Confirm to the hub which gallery this device now runs.
                self.gallery_version = ack.version
                client.publish(topic(self.device_id, Channel.STATE), self._state("online"), qos=1, retain=True)
            return
        if channel is Channel.ASSIGNMENTS and isinstance(ack, Assignments):
            if self.on_assignments:
                self.on_assignments(ack)
            return
        if channel is Channel.ACK and isinstance(ack, Ack):
            # Rejected events are final (the hub will never store them): drop them and remember why.
            if not ack.keys and not ack.rejected:
                self.outbox.reset_sent()  # the hub greets us after a restart: resend what is pending now
            self.rejected.update(ack.rejected)
            try:
                self.acked += self.outbox.acknowledge([*ack.keys, *ack.rejected])
                if ack.keys:
                    self.last_ack_at = utcnow()
            except sqlite3.Error as exc:
                # Kept, not lost: the events stay in the outbox, are resent, and the hub acknowledges again.
                log.error("could not delete acknowledged events from the outbox: %s", exc)
            self._wake.set()

    def _on_disconnect(self, *args: object) -> None:
        self.connected.clear()

    def _on_connect_fail(self, client, userdata) -> None:  # noqa: ANN001
        if not self.connect_error:  # log once per outage, not on every retry
            log.warning("broker %s:%d not reachable; recording into the outbox and retrying",
                        self.settings.host, self.settings.port)
        self.connect_error = f"broker {self.settings.host}:{self.settings.port} not reachable"

    # -- sending ----------------------------------------------------------------------------------------
    def start(self) -> DeviceLink:
        """Begin connecting (returns at once; never fails for an unreachable broker) and sending."""
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        connect_in_background(self.client, self.settings)
        self._sender = threading.Thread(target=self._send_loop, name="outbox-sender", daemon=True)
        self._sender.start()
        return self

    def notify(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if not self.connected.is_set():
                continue
            while not self._stop.is_set():
                batch = self.outbox.pending(self.batch, self.resend_after_s, time.time())
                if not batch:
                    break
                for item in batch:
                    self.client.publish(topic(self.device_id, Channel.EVENT), item.payload, qos=1)
                self.outbox.mark_sent([p.seq for p in batch], time.time())

    def publish_telemetry(self, telemetry: Telemetry) -> None:
        self.client.publish(topic(self.device_id, Channel.TELEMETRY), telemetry.model_dump_json(), qos=0)

    def wait_drained(self, timeout: float) -> bool:
        """Block until every stored event is acknowledged (or timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.outbox.depth() == 0

    def stop(self, clean: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        if self._sender:
            self._sender.join(5)
        if clean and self.connected.is_set():
            info = self.client.publish(topic(self.device_id, Channel.STATE), self._state("stopped"),
                                       qos=1, retain=True)
            info.wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()
