"""Hub ingest: subscribe, validate, verify, de-duplicate, store, then acknowledge to the device.

Several workers may share the load through an MQTT 5 shared subscription; the broker spreads one
device's events across them in any order, so every step here is idempotent and order-free.
An event is acknowledged only after the store has committed it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hadir.contract import (
    Ack,
    AttendanceEvent,
    Channel,
    ContractError,
    DeviceState,
    Telemetry,
    parse,
    topic,
    uplink_filter,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect, make_client
from hub.ingest.gps_checks import GpsHistory
from hub.ingest.metrics import IngestMetrics
from hub.ingest.quarantine import Quarantine
from hub.ingest.verify import Rejected, VerifyPolicy, check_signature, flags_for, previous_keys
from hub.registry import DeviceRegistry
from hub.store.base import EventStore, PutResult, StoredEvent

log = logging.getLogger(__name__)


@dataclass
class Inbound:
    topic: str
    payload: bytes
    received_at: object


class Ingest:
    """The broker-independent core: a batch of raw messages in, acknowledgements out."""

    def __init__(self, store: EventStore, registry: DeviceRegistry, quarantine: Quarantine,
                 metrics: IngestMetrics | None = None, policy: VerifyPolicy | None = None,
                 on_stored: Callable[[StoredEvent], None] | None = None, gps_history: GpsHistory | None = None,
                 on_state: Callable[[DeviceState], None] | None = None):
        self.store, self.registry, self.quarantine = store, registry, quarantine
        self.gps_history = gps_history
        self.metrics = metrics or IngestMetrics()
        self.policy = policy or VerifyPolicy()
        self.on_stored, self.on_state = on_stored, on_state
        # Recently stored key -> hash: chain checks of the next events rarely need the store.
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._recent_max = 200_000
        self._recent_lock = threading.Lock()

    def _refuse(self, msg: Inbound, reason: str, detail: str) -> None:
        self.metrics.rejected.labels(reason).inc()
        self.quarantine.add(msg.topic, msg.payload, reason, detail, msg.received_at)
        log.warning("refused message on %s: %s: %s", msg.topic, reason, detail)

    def process(self, batch: list[Inbound]) -> list[Ack]:
        events: list[tuple[Inbound, StoredEvent]] = []
        rejected: dict[str, dict[str, str]] = defaultdict(dict)
        for msg in batch:
            try:
                device_id, channel, model = parse(msg.topic, msg.payload, "up")
            except ContractError as exc:
                self.metrics.received.labels("invalid").inc()
                self._refuse(msg, exc.reason, exc.detail if exc.field is None else f"{exc.field}: {exc.detail}")
                continue
            self.metrics.received.labels(channel.name.lower()).inc()
            if isinstance(model, DeviceState):
                self.registry.record_state(model, msg.received_at)
                self.metrics.online.set(self.registry.online_count())
                log.info("device %s is %s (gallery v%d, last seq %d)", model.device_id, model.state,
                         model.gallery_version, model.last_seq)
                if self.on_state:
                    try:
                        self.on_state(model)
                    except Exception:  # a failed gallery push must not stop ingest; the next connect retries
                        log.exception("handling the state of %s failed", model.device_id)
                continue
            if isinstance(model, Telemetry):
                self.registry.record_telemetry(model, msg.received_at)
                self.metrics.device_seen.labels(model.device_id).set(msg.received_at.timestamp())
                self.metrics.device_outbox.labels(model.device_id).set(model.outbox_depth)
                if model.outbox_free_mb is not None:
                    self.metrics.device_free_mb.labels(model.device_id).set(model.outbox_free_mb)
                continue
            if not isinstance(model, AttendanceEvent):  # parse(..., "up") admits only uplink models
                self._refuse(msg, "bad_topic", f"unexpected {type(model).__name__} on an uplink topic")
                continue
            try:
                check_signature(model, self.registry)
            except Rejected as exc:
                self._refuse(msg, exc.reason, exc.detail)
                if exc.final:
                    rejected[device_id][model.key] = exc.reason
                continue
            events.append((msg, StoredEvent(model, msg.received_at)))

        # Chain links: the previous events' hashes, from this batch or (one query) from the store.
        batch_hashes = {item.key: item.hash for _, item in events}
        known = {**batch_hashes}
        wanted = []
        for k in previous_keys([item.event for _, item in events]):
            if k in batch_hashes:
                continue
            with self._recent_lock:
                digest = self._recent.get(k)
            if digest is not None:
                known[k] = digest
            else:
                wanted.append(k)
        if wanted:
            known.update(self.store.hashes(wanted))
        events = [(msg, StoredEvent(item.event, item.received_at, tuple(
                      flags_for(item.event, item.received_at, known, self.policy)
                      + (self.gps_history.check(item.event) if self.gps_history else []))))
                  for msg, item in events]

        results = self.store.put([e for _, e in events]) if events else []
        stored: dict[str, list[str]] = defaultdict(list)
        for (msg, item), result in zip(events, results, strict=True):
            device = item.event.device_id
            if result is PutResult.FORK:
                self._refuse(msg, "fork", f"{item.key} already stored with different content")
                rejected[device][item.key] = "fork"
                continue
            stored[device].append(item.key)
            self._remember(item.key, item.hash)
            if result is PutResult.DUPLICATE:
                self.metrics.duplicates.inc()
                continue
            self.metrics.stored.inc()
            self.metrics.lag.observe(max(0.0, (item.received_at - item.event.captured_at).total_seconds()))
            for flag in item.flags:
                self.metrics.flagged.labels(flag).inc()
            if self.on_stored:
                self.on_stored(item)
        now = utcnow()
        if events or rejected:
            log.info("batch of %d messages: %d events stored or re-acknowledged from %d devices, %d refused",
                     len(batch), sum(map(len, stored.values())), len(stored), sum(map(len, rejected.values())))
        return [Ack(device_id=d, keys=stored.get(d, []), rejected=rejected.get(d, {}), stored_at=now)
                for d in sorted(set(stored) | set(rejected))]


    def _remember(self, key: str, digest: str) -> None:
        with self._recent_lock:
            self._recent[key] = digest
            if len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)


class IngestWorker:
    """One MQTT subscriber feeding `Ingest` in batches and publishing the acknowledgements."""

    def __init__(self, ingest: Ingest, settings: MqttSettings, name: str = "hub-1", *, shared_group: str | None
                 = "hadir", batch_max: int = 500, batch_wait_s: float = 0.02):
        self.ingest, self.settings, self.name = ingest, settings, name
        self.batch_max, self.batch_wait_s = batch_max, batch_wait_s
        # amqtt (MQTT 3.1.1) has no shared subscriptions: a single worker subscribes plainly there.
        base = uplink_filter()
        self.subscription = f"$share/{shared_group}/{base}" if shared_group and settings.protocol == 5 else base
        self.client = make_client(settings, client_id=name)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._queue: queue.Queue[Inbound] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if not getattr(reason_code, "is_failure", False):
            client.subscribe(self.subscription, qos=1)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        self._queue.put(Inbound(message.topic, bytes(message.payload), utcnow()))

    def start(self, timeout: float = 10.0) -> IngestWorker:
        self._thread = threading.Thread(target=self._run, name=f"ingest-{self.name}", daemon=True)
        self._thread.start()
        connect(self.client, self.settings, timeout=timeout)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            # A batch closes when full or `batch_wait_s` after its first message, whichever is first:
            # big batches under load, low latency when quiet.
            batch, deadline = [first], time.monotonic() + self.batch_wait_s
            try:
                while len(batch) < self.batch_max:
                    batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                pass
            try:
                acks = self.ingest.process(batch)
            except Exception:
                # Store down: nothing is acknowledged, devices keep the events and resend them.
                log.exception("ingest batch of %d failed; devices will resend", len(batch))
                continue
            for ack in acks:
                self.client.publish(topic(ack.device_id, Channel.ACK), ack.model_dump_json(), qos=1)
                self.ingest.metrics.acks.inc()

    def greet(self, device_ids: list[str]) -> None:
        """Tell devices the hub is (back) up: an empty Ack makes them resend what is still unacknowledged."""
        now = utcnow()
        for device_id in device_ids:
            self.client.publish(topic(device_id, Channel.ACK), Ack(device_id=device_id, keys=[], stored_at=now)
                                .model_dump_json(), qos=1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        if self.settings.protocol == 5:
            # A clean stop ends the session: a worker that is gone must not stay in the shared group,
            # where the broker would keep handing it a share of the events (devices resend them anyway).
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
            self.client.disconnect(properties=props)
        else:
            self.client.disconnect()
        self.client.loop_stop()
