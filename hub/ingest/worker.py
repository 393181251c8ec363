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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hadir.contract import (
    HASH_PREFIX_LEN,
    Ack,
    AttendanceEvent,
    Channel,
    ContractError,
    DeviceState,
    OutboxReport,
    Telemetry,
    parse,
    topic,
    uplink_filter,
    utcnow,
)
from hadir.mqtt import MqttSettings, connect, make_client
from hadir.signing import sign_message, verify_event, verify_message
from hub.ingest.gps_checks import GpsHistory
from hub.ingest.metrics import IngestMetrics
from hub.ingest.quarantine import Quarantine
from hub.ingest.verify import VerifyPolicy, flags_for, previous_keys
from hub.registry import DeviceRegistry
from hub.store.base import EventStore, PutResult, StoredEvent, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass
class Inbound:
    topic: str
    payload: bytes
    received_at: object
    retained: bool = False  # a retained copy the broker replayed at subscription, not live traffic


_VERIFY_POOL = ThreadPoolExecutor(1, thread_name_prefix="verify")
ACK_BUDGET = 14_000  # bytes of keys and digests per acknowledgement: keeps each under the contract's 16 KiB


def _acks(device: str, stored: list[tuple[str, str]], rejected: dict[str, tuple[str, str]],
          resend: bool = False) -> list[Ack]:
    """One device's answer, split so that every message stays under the size limit. `rejected` maps a key
    to (reason, hash prefix of the refused copy): the device acts only if that copy is its own."""
    now = utcnow()
    out: list[Ack] = []
    keys: list[tuple[str, str]] = []
    refused: dict[str, tuple[str, str]] = {}
    size = 0
    items = [(k, d, None) for k, d in stored] + [(k, d, why) for k, (why, d) in rejected.items()]
    for i, (key, digest, why) in enumerate(items):
        if why is None:
            keys.append((key, digest))
        else:
            refused[key] = (why, digest)
        size += 2 * len(key) + len(digest) + len(why or "") + 16
        if size > ACK_BUDGET or i == len(items) - 1:
            out.append(Ack(device_id=device, keys=[k for k, _ in keys], digests=[d for _, d in keys],
                           rejected={k: w for k, (w, _) in refused.items()},
                           rejected_digests={k: d for k, (_, d) in refused.items()}, resend=resend, stored_at=now))
            keys, refused, size = [], {}, 0
    return out or [Ack(device_id=device, keys=[], resend=resend, stored_at=now)]


def _verify_all(checks: list[tuple[AttendanceEvent, object]]) -> list[bool]:
    return [key is not None and verify_event(ev, key) for ev, key in checks]


class Ingest:
    """The broker-independent core: a batch of raw messages in, acknowledgements out."""

    def __init__(self, store: EventStore, registry: DeviceRegistry, quarantine: Quarantine,
                 metrics: IngestMetrics | None = None, policy: VerifyPolicy | None = None,
                 on_stored: Callable[[StoredEvent], None] | None = None, gps_history: GpsHistory | None = None,
                 on_state: Callable[[DeviceState], None] | None = None, signer: Ed25519PrivateKey | None = None):
        self.store, self.registry, self.quarantine = store, registry, quarantine
        self.gps_history = gps_history
        self.metrics = metrics or IngestMetrics()
        self.policy = policy or VerifyPolicy()
        self.on_stored, self.on_state = on_stored, on_state
        self.signer = signer  # the hub's key: every ack is signed (devices ignore unsigned ones)
        # Recently stored key -> hash: chain checks of the next events rarely need the store.
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._recent_max = 200_000
        self._recent_lock = threading.Lock()
        self.resend_every_s = 600.0  # ask one device to resend at most this often
        self._resend_asked: dict[str, float] = {}
        self._resend_due: set[str] = set()

    def _refuse(self, msg: Inbound, reason: str, detail: str) -> None:
        self.metrics.rejected.labels(reason).inc()
        self.quarantine.add(msg.topic, msg.payload, reason, detail, msg.received_at)
        log.warning("refused message on %s: %s: %s", msg.topic, reason, detail)

    def sign(self, ack: Ack) -> Ack:
        return sign_message(ack, self.signer) if self.signer is not None else ack

    def _parse(self, msg: Inbound) -> AttendanceEvent | None:
        """Parse one message; state and telemetry are recorded here. An event to verify, or None."""
        try:
            _, channel, model = parse(msg.topic, msg.payload, "up")
        except ContractError as exc:
            self.metrics.received.labels("invalid").inc()
            self._refuse(msg, exc.reason, exc.detail if exc.field is None else f"{exc.field}: {exc.detail}")
            return None
        self.metrics.received.labels(channel.name.lower()).inc()
        if isinstance(model, DeviceState):
            self.registry.record_state(model, msg.received_at, live=not msg.retained)
            self.metrics.online.set(self.registry.online_count())
            log.info("device %s is %s (gallery v%d, last seq %d)%s", model.device_id, model.state,
                     model.gallery_version, model.last_seq, " (retained)" if msg.retained else "")
            self._check_restored(model)
            if self.on_state:
                try:
                    self.on_state(model)
                except Exception:  # a failed gallery push must not stop ingest; the next connect retries
                    log.exception("handling the state of %s failed", model.device_id)
            return None
        if isinstance(model, Telemetry):
            self.registry.record_telemetry(model, msg.received_at)
            self.metrics.device_seen.labels(model.device_id).set(msg.received_at.timestamp())
            self.metrics.device_outbox.labels(model.device_id).set(model.outbox_depth)
            if model.outbox_free_mb is not None:
                self.metrics.device_free_mb.labels(model.device_id).set(model.outbox_free_mb)
            return None
        if isinstance(model, OutboxReport):
            return model
        if not isinstance(model, AttendanceEvent):  # parse(..., "up") admits only uplink models
            self._refuse(msg, "bad_topic", f"unexpected {type(model).__name__} on an uplink topic")
            return None
        return model

    def _verified(self, parsed: list[tuple[Inbound, AttendanceEvent]],
                  rejected: dict[str, dict[str, tuple[str, str]]]) -> list[tuple[Inbound, StoredEvent]]:
        """Signature checks for a batch: libsodium releases the interpreter lock, so a big batch is verified
        half here and half on a second thread."""
        self.registry.refresh()  # one look per batch at whether a CLI changed a key or revoked a device
        checks = [(ev, self.registry.public_key(ev.device_id, fresh=False)) for _, ev in parsed]
        if len(checks) >= 32:
            # Two halves, one per thread: a future per event cost more interpreter time than it saved.
            half = len(checks) // 2
            other = _VERIFY_POOL.submit(_verify_all, checks[half:])
            outcomes = _verify_all(checks[:half]) + other.result()
        else:
            outcomes = _verify_all(checks)
        out = []
        for (msg, ev), (_, key), ok in zip(parsed, checks, outcomes, strict=True):
            if ok:
                out.append((msg, StoredEvent(ev, msg.received_at)))
                continue
            if key is None:
                # Not final: the device may simply not be registered yet; it keeps the event and resends.
                self._refuse(msg, "unknown_device", f"device {ev.device_id!r} is not registered or is revoked")
                continue
            self._refuse(msg, "bad_signature", f"signature of {ev.key} does not verify with the registered key")
            rejected[ev.device_id][ev.key] = ("bad_signature", ev.event_hash()[:HASH_PREFIX_LEN])
        return out

    def _report(self, msg: Inbound, report: OutboxReport, acks: dict[str, list[tuple[str, str]]]) -> None:
        """A device announces a new outbox epoch, possibly with events it lost: keep it (hub/epochs.py), say it
        loudly when something was lost, and acknowledge it so the device stops sending it."""
        key = self.registry.public_key(report.device_id)
        if key is None:
            self._refuse(msg, "unknown_device", f"device {report.device_id!r} is not registered or is revoked")
            return
        if not verify_message(report, key):
            self._refuse(msg, "bad_signature", f"signature of {report.key} does not verify with the registered key")
            return
        repeat = self.registry.epochs.has_report(report.device_id, report.epoch)
        record = self.registry.epochs.record_report(report, msg.received_at, self.store)
        if repeat:  # a resend (the ack was lost) or a second claim for the epoch: the first one stands
            log.info("device %s repeated its report of epoch %d: the first report stands", report.device_id,
                     report.epoch)
        elif report.reason not in ("new_outbox", "epoch_full", "reissue"):
            self.metrics.loss_reports.labels(report.reason).inc()
            lost = -1 if record.lost_missing is None else record.lost_missing
            self.metrics.device_lost.labels(report.device_id).set(lost)
            log.critical("device %s reports events lost on the device: %s (%s)", report.device_id,
                         record.problem(), report.detail)
        self.metrics.unannounced_epochs.set(self.registry.epochs.unannounced())
        acks[report.device_id].append((report.key, report.digest()))

    def _check_restored(self, state: DeviceState) -> None:
        """The device says the hub acknowledged `acked_through`; if the store does not have it, the hub was
        restored from an older backup (or lost data): ask the device to send again what it still keeps."""
        key = f"{state.device_id}:{state.acked_through}"
        if not state.acked_through or not self.registry.active(state.device_id) or self.store.hashes([key]):
            return
        now = time.monotonic()
        if now - self._resend_asked.get(state.device_id, -1e9) < self.resend_every_s:
            return
        self._resend_asked[state.device_id] = now
        with self._recent_lock:
            self._resend_due.add(state.device_id)
        self.metrics.resend_requests.inc()
        log.warning("device %s says %s was stored, but the store does not have it (restored from an older "
                    "backup?): asking it to send again what it keeps", state.device_id, key)

    def process(self, batch: list[Inbound]) -> list[Ack]:
        rejected: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
        reports: dict[str, list[tuple[str, str]]] = defaultdict(list)  # device -> (report key, digest) to ack
        parsed: list[tuple[Inbound, AttendanceEvent]] = []
        for msg in batch:
            try:
                model = self._parse(msg)
                if isinstance(model, OutboxReport):
                    self._report(msg, model, reports)
                    continue
            except StoreUnavailable:
                raise
            except Exception as exc:  # one odd message never fails the batch
                log.exception("message on %s could not be checked", msg.topic)
                self._refuse(msg, "internal_error", f"{type(exc).__name__}: {exc}"[:300])
                continue
            if model is not None:
                parsed.append((msg, model))
        events = self._verified(parsed, rejected)
        if events:
            self.registry.seen({item.event.device_id for _, item in events}, utcnow())

        # Chain links: what the store holds wins over this batch (a forked copy vouches for nothing);
        # then this batch, then the recent cache.
        batch_hashes = {item.key: item.hash for _, item in events}
        wanted = set(batch_hashes)
        known: dict[str, str] = {}
        for k in previous_keys([item.event for _, item in events]):
            if k in batch_hashes:
                continue
            with self._recent_lock:
                digest = self._recent.get(k)
            if digest is not None:
                known[k] = digest
            else:
                wanted.add(k)
        stored_before = self.store.hashes(sorted(wanted)) if wanted else {}
        known = {**batch_hashes, **known, **stored_before}
        events = [(msg, StoredEvent(item.event, item.received_at, tuple(
                      flags_for(item.event, item.received_at, known, self.policy)
                      + (self.gps_history.check(item.event) if self.gps_history else []))))
                  for msg, item in events]

        results = self._put([e for _, e in events]) if events else []
        stored: dict[str, list[tuple[str, str]]] = reports  # report acks go out with the events' acks
        for (msg, item), (result, detail) in zip(events, results, strict=True):
            device = item.event.device_id
            if result is PutResult.FORK:
                self._refuse(msg, "fork", f"{item.key} already stored with different content")
                rejected[device][item.key] = ("fork", item.hash[:HASH_PREFIX_LEN])
                continue
            if result is PutResult.UNSTORABLE:
                self._refuse(msg, "unstorable", detail)
                rejected[device][item.key] = ("unstorable", item.hash[:HASH_PREFIX_LEN])
                continue
            stored[device].append((item.key, item.hash[:HASH_PREFIX_LEN]))
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
        with self._recent_lock:
            resend, self._resend_due = self._resend_due, set()
        if events or rejected:
            log.info("batch of %d messages: %d events stored or re-acknowledged from %d devices, %d refused",
                     len(batch), sum(map(len, stored.values())), len(stored), sum(map(len, rejected.values())))
        return [self.sign(a) for d in sorted(set(stored) | set(rejected) | resend)
                for a in _acks(d, stored.get(d, []), rejected.get(d, {}), resend=d in resend)]

    def _put(self, items: list[StoredEvent]) -> list[tuple[PutResult, str]]:
        """Store a batch; if the store refuses it for its data, split it until the one bad event is found,
        so that event is quarantined and the others are stored. A store that is down fails the batch."""
        try:
            return [(r, "") for r in self.store.put(items)]
        except StoreUnavailable:
            raise
        except Exception as exc:
            if len(items) == 1:
                log.error("store refused %s: %s", items[0].key, exc)
                return [(PutResult.UNSTORABLE, f"{type(exc).__name__}: {exc}"[:300])]
            half = len(items) // 2
            return self._put(items[:half]) + self._put(items[half:])

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
        self.client.on_disconnect = self._on_disconnect
        # SimpleQueue: its put and get are C calls; queue.Queue's Python condition variable cost the network
        # thread and the worker a lock dance per message.
        self._queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if not getattr(reason_code, "is_failure", False):
            client.subscribe(self.subscription, qos=1)

    def _on_disconnect(self, *args: object) -> None:
        # Without the broker the hub cannot know who is online: say so instead of showing the last state.
        if not self._stop.is_set():
            n = self.ingest.registry.mark_all_offline(utcnow())
            self.ingest.metrics.online.set(self.ingest.registry.online_count())
            log.error("ingest worker %s lost the broker; %d devices now shown as unknown", self.name, n)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        self._queue.put(Inbound(message.topic, bytes(message.payload), utcnow(), bool(message.retain)))

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
                self.client.publish(topic(ack.device_id, Channel.ACK), ack.to_bytes(), qos=1)
                self.ingest.metrics.acks.inc()

    def greet(self, device_ids: list[str]) -> None:
        """Tell devices the hub is (back) up: an empty Ack makes them resend what is still unacknowledged."""
        now = utcnow()
        for device_id in device_ids:
            ack = self.ingest.sign(Ack(device_id=device_id, keys=[], stored_at=now))
            self.client.publish(topic(device_id, Channel.ACK), ack.to_bytes(), qos=1)

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
