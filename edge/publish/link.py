"""The device's one MQTT session: publishes the outbox, receives acknowledgements, reports its state.

Nothing else on the device talks to the broker. Events leave the outbox only when the hub's signed Ack
names them with the hash of what it stored, so a broker that drops messages (Mosquitto's queue limit, a
crash before autosave) loses nothing: unacknowledged events are sent again after `resend_after_s`.
Anything that arrives is bounded and checked (contract size and depth, the hub's signature) and no
message, however malformed, can stop this session's network thread.

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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.outbox.store import Outbox
from hadir.contract import (
    Ack,
    Assignments,
    Channel,
    ContractError,
    DeviceState,
    GalleryUpdate,
    OutboxReport,
    Telemetry,
    parse,
    topic,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect_in_background, make_client
from hadir.signing import sign_event, sign_message, verify_message

log = logging.getLogger(__name__)


class DeviceLink:
    def __init__(self, settings: MqttSettings, device_id: str, outbox: Outbox, *, hub_key: Ed25519PublicKey,
                 signer: Ed25519PrivateKey | None = None, software: str = "hadir",
                 model_id: str = "", gallery_version: int = 0, resend_after_s: float = 10.0,
                 batch: int = 200, on_gallery: Callable[[GalleryUpdate], bool] | None = None,
                 on_assignments: Callable[[Assignments], bool] | None = None):
        """`hub_key`: the hub's public key (device bundle) that every ack, gallery and assignment list must
        be signed with. `signer`: the device key, to re-record events under new keys when the hub holds
        other events under theirs (without it such events are held on the device and reported)."""
        self.settings, self.device_id, self.outbox = settings, device_id, outbox
        self.hub_key, self.signer = hub_key, signer
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
        self.ignored = 0  # down messages refused: malformed, unsigned, forged
        self.reissued: list[str] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self._reports_sent_at = -1e9  # when the outbox's epoch reports were last published
        self._unsigned_said = False

    def _state(self, state: str) -> bytes:
        return DeviceState(device_id=self.device_id, state=state, at=utcnow(), software=self.software,
                           model_id=self.model_id, gallery_version=self.gallery_version,
                           last_seq=self.outbox.last_seq(), acked_through=self.outbox.acked_through(),
                           held=len(self.outbox.held()),
                           alarm=(self.outbox.recovered or "")[:200]).model_dump_json().encode()

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
        self._reports_sent_at = -1e9
        self.connected.set()
        self._wake.set()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        try:
            self._handle(client, message)
        except Exception:  # never let one message end the network thread
            self.ignored += 1
            log.exception("message on %s could not be handled", message.topic)

    def _handle(self, client: mqtt.Client, message: mqtt.MQTTMessage) -> None:
        try:
            _, channel, msg = parse(message.topic, message.payload, "down")
        except ContractError as exc:
            self.ignored += 1
            log.warning("ignored message on %s: %s", message.topic, exc)
            return
        if not isinstance(msg, Ack | GalleryUpdate | Assignments) or not verify_message(msg, self.hub_key):
            self.ignored += 1
            log.error("ignored %s not signed by the hub's key (forged or from another hub)", channel.value)
            return
        if isinstance(msg, GalleryUpdate):
            if self.on_gallery and self.on_gallery(msg):
                # Confirm to the hub which gallery this device now runs.
                self.gallery_version = msg.version
                client.publish(topic(self.device_id, Channel.STATE), self._state("online"), qos=1, retain=True)
            return
        if isinstance(msg, Assignments):
            if self.on_assignments:
                self.on_assignments(msg)
            return
        self._on_ack(msg)

    def _on_ack(self, ack: Ack) -> None:
        greeting = ack.resend or (not ack.keys and not ack.rejected)  # before report keys are taken out
        reports = [k for k in ack.keys if k.startswith(f"{self.device_id}:epoch:")]
        if reports:
            self._reports_acked(ack, set(reports))
            ack = ack.model_copy(update={"keys": [k for k in ack.keys if k not in reports],
                                         "digests": [d for k, d in zip(ack.keys, ack.digests, strict=True)
                                                     if k not in reports]})
        if ack.keys:
            self.last_ack_at = utcnow()
        if greeting:
            self._reports_sent_at = -1e9  # and the reports it has not acknowledged
            # The hub greets us after its restart, or lost events it had acknowledged (restored from a
            # backup): resend what it lacks, and tell it what we hold (it checks our acked_through).
            if ack.resend:
                n = self.outbox.release_acked()
                log.warning("hub asked for a resend: %d acknowledged events sent again", n)
            self.outbox.release_held()
            self.outbox.reset_sent()
            self.client.publish(topic(self.device_id, Channel.STATE), self._state("online"), qos=1, retain=True)
        try:
            self.acked += self.outbox.acknowledge(zip(ack.keys, ack.digests, strict=True))
            # A refusal of a copy that is not ours (someone else published under our key) is not about us.
            mine = {k: why for k, why in ack.rejected.items()
                    if k not in ack.rejected_digests or self.outbox.digest(k) in (None, ack.rejected_digests[k])}
            if len(mine) < len(ack.rejected):
                log.warning("hub refused %d copies of our keys that are not ours: ignored",
                            len(ack.rejected) - len(mine))
            ack = ack.model_copy(update={"rejected": mine})
            # Known before the outbox changes: whoever waits for the outbox to drain then sees why.
            self.rejected.update(ack.rejected)
            forks = [k for k, why in ack.rejected.items() if why == "fork"]
            if forks and self.signer is not None:
                key = self.signer
                self.reissued += self.outbox.reissue(forks, lambda ev: sign_event(ev, key))
                self._reports_sent_at = -1e9  # announce the new epoch before its events go out
            other = {k: why for k, why in ack.rejected.items() if why != "fork" or self.signer is None}
            if other:
                # Never deleted: the hub did not store them. Kept aside and reported in the device state.
                self.outbox.hold(other)
                log.error("hub refused %d events (%s): held on the device", len(other),
                          ", ".join(sorted(set(other.values()))))
        except sqlite3.Error as exc:
            # Kept, not lost: the events stay in the outbox, are resent, and the hub acknowledges again.
            log.error("could not update the outbox after an acknowledgement: %s", exc)
        self._wake.set()

    def _reports_acked(self, ack: Ack, keys: set[str]) -> None:
        """The hub recorded these epoch reports: stop sending them (only if it recorded exactly ours)."""
        mine = {self._report(body).key: self._report(body) for body in self.outbox.pending_reports()}
        for key, digest in zip(ack.keys, ack.digests, strict=True):
            if key in keys and key in mine and mine[key].digest() == digest:
                self.outbox.report_acknowledged(mine[key].epoch)

    def _report(self, body: dict) -> OutboxReport:
        return OutboxReport(key=f"{self.device_id}:epoch:{body['epoch']}", device_id=self.device_id, **body)

    def _send_reports(self) -> None:
        """Publish the outbox's unacknowledged epoch reports (signed), at most every resend_after_s. They go
        before the events of their epoch, so the hub knows of a new epoch (or a loss) before it sees one."""
        now = time.monotonic()
        if now - self._reports_sent_at < self.resend_after_s:
            return
        self._reports_sent_at = now
        bodies = self.outbox.pending_reports()
        if bodies and self.signer is None:
            if not self._unsigned_said:
                log.error("%d outbox reports cannot be sent: this link has no device key to sign them", len(bodies))
                self._unsigned_said = True
            return
        for body in bodies:
            report = sign_message(self._report(body), self.signer)
            self.client.publish(topic(self.device_id, Channel.REPORT), report.to_bytes(), qos=1)

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
            self._send_reports()
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
