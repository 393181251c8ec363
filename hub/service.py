"""Assemble a running hub from settings: broker (embedded or external), store, ingest workers."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hadir.contract import Channel, DeviceState, seq_epoch, topic
from hadir.mqtt import MqttSettings
from hadir.private_file import write_private
from hadir.signing import load_or_create_key, save_public_key, sign_message
from hub.assignments import AssignmentPublisher
from hub.broker import REFUSALS, EmbeddedBroker
from hub.broker_auth import HUB_USER
from hub.config import HubSettings
from hub.ingest.gps_checks import GpsHistory
from hub.ingest.metrics import IngestMetrics
from hub.ingest.quarantine import Quarantine
from hub.ingest.verify import VerifyPolicy
from hub.ingest.worker import Ingest, IngestWorker
from hub.live import Broadcaster
from hub.master import MasterData
from hub.presence import HubPresence
from hub.registry import DeviceRegistry
from hub.retention import DailyRetention, RetentionJob, RetentionReport
from hub.store.base import EventStore, StoredEvent

log = logging.getLogger(__name__)

HUB_KEY_FILE = "hub_signing.key"  # Ed25519: signs what the hub sends down (acks, galleries, assignments)
HUB_PUBLIC_FILE = "hub.pub"  # its public half, copied into every device bundle
BROKER_SECRET_FILE = "broker_hub.secret"  # the hub's password on the embedded broker


def hub_public_key_path(data_dir: Path) -> Path:
    """Where the hub's public key is (created with the key on the hub's first start)."""
    data_dir = Path(data_dir)
    load_or_create_key(data_dir / HUB_KEY_FILE)
    path = data_dir / HUB_PUBLIC_FILE
    if not path.exists():
        save_public_key(load_or_create_key(data_dir / HUB_KEY_FILE), path)
    return path


def _secret(path: Path) -> str:
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def open_store(settings: HubSettings) -> EventStore:
    if settings.store == "influx":
        from hub.store.influx_store import InfluxEventStore

        i = settings.influx
        return InfluxEventStore(i.url, i.database, i.username, i.password)
    from hub.store.sqlite_store import SqliteEventStore

    return SqliteEventStore(settings.data_dir / "events.sqlite")


def scrape_token(data_dir: Path) -> str:
    """The credential Prometheus presents at /metrics (`authorization: credentials_file:` in its config):
    a file made once beside the hub's data, readable by the hub's user only."""
    path = data_dir / "metrics.token"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def start_metrics_listener(metrics: IngestMetrics, host: str, port: int):  # noqa: ANN201 - a WSGI server
    """A separate plain-HTTP listener with only the metrics, for a scraper on the internal network."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server


@dataclass
class Hub:
    settings: HubSettings
    on_stored: Callable[[StoredEvent], None] | None = None
    broker: EmbeddedBroker | None = None
    presence: HubPresence | None = None
    workers: list[IngestWorker] = field(default_factory=list)
    retention: DailyRetention | None = None
    assignments: AssignmentPublisher | None = None

    def __post_init__(self) -> None:
        d = self.settings.data_dir
        d.mkdir(parents=True, exist_ok=True)
        self.store = open_store(self.settings)
        self.registry = DeviceRegistry.in_dir(d)
        self.hub_key = load_or_create_key(d / HUB_KEY_FILE)
        hub_public_key_path(d)
        self.hub_public_key = self.hub_key.public_key()
        self.quarantine = Quarantine(d / "quarantine.sqlite")
        self.metrics = IngestMetrics()
        self.metrics.broker_refused.set_function(lambda: REFUSALS.total)
        policy = VerifyPolicy(self.settings.clock_tolerance_s, self.settings.trust_replay_clock,
                              self.settings.backlog_tolerance_days * 86400, self.settings.month_close_day,
                              month_closed=self._month_closed)
        self.broadcaster = Broadcaster()
        self.gps_history = GpsHistory(d / "gps.sqlite")
        self.ingest = Ingest(self.store, self.registry, self.quarantine, self.metrics, policy, self._stored,
                             self.gps_history, on_state=self._device_state, signer=self.hub_key)
        self.metrics.unannounced_epochs.set(self.registry.epochs.unannounced())  # known before this start
        self._master: MasterData | None = None
        self._device_secrets: dict[str, str] = {}
        self._listeners: list[Callable[[StoredEvent], None]] = [self.on_stored] if self.on_stored else []

    def _month_closed(self, month: str) -> bool:
        """Whether the payroll office closed `month` (YYYY-MM); read from the master data at most every 60 s."""
        now = time.monotonic()
        cached = getattr(self, "_closed_cache", None)
        if cached is None or now - cached[0] > 60:
            try:
                from hub.corrections import closed_months

                cached = (now, frozenset(m.month for m in closed_months(self.master)))
            except Exception:  # no master data (yet): only the age and close-day rules apply
                log.debug("closed months not readable", exc_info=True)
                cached = (now, frozenset())
            self._closed_cache = cached
        return month in cached[1]

    def add_listener(self, listener: Callable[[StoredEvent], None]) -> None:
        """Also call `listener` with every event stored from now on (e.g. the web app's live results)."""
        self._listeners.append(listener)

    def _stored(self, item: StoredEvent) -> None:
        self.broadcaster.publish(item)  # live check-ins for dashboards
        ev = item.event
        first = self.registry.epochs.seen(ev.device_id, seq_epoch(ev.seq), ev.seq, item.received_at)
        if first is not None and not first.announced:  # a set lookup per event; this only on an epoch's first
            self.metrics.unannounced_epochs.set(n := self.registry.epochs.unannounced())
            if n and first in self.registry.epochs.problems(ev.device_id):
                log.error("device %s: %s", ev.device_id, first.problem())
        for listener in self._listeners:
            listener(item)

    @property
    def master(self) -> MasterData:
        if self._master is None:
            self._master = MasterData(self.settings.master_db)
        return self._master

    @property
    def enrolment(self):  # noqa: ANN201 - loads the face models on first use only
        if getattr(self, "_enrolment", None) is None:
            from edge.infer.pipeline import FacePipeline
            from hub.enrolment import Enrolment, template_key

            self._enrolment = Enrolment(self.master, template_key(self.settings.template_key_path),
                                        FacePipeline(threads=2, embedder=self.settings.embedder))
        return self._enrolment

    def _device_state(self, state: DeviceState) -> None:
        """A device that comes online with an older gallery than the hub's current one gets the current one,
        so a gallery pushed while it was off (or before its first connection) is never lost."""
        if state.state != "online" or not self.workers:
            return
        from hub.enrolment import gallery_version

        current = gallery_version(self.master)
        device = self.registry.get(state.device_id)
        if device is None or device.revoked or current <= state.gallery_version:
            return
        if self.push_gallery(device.device_id, device.opd):
            log.info("gallery v%d sent to %s on connect (it had v%d)", current, state.device_id, state.gallery_version)

    def push_gallery(self, device_id: str, opd: str | None) -> bool:
        """Send one device the current gallery of its OPD, sealed for the device's own key and signed by the
        hub. A device registered without a gallery key gets nothing (templates never travel in the clear)."""
        box = self.registry.box_key(device_id)
        if box is None:
            log.error("device %s has no gallery key registered: gallery not sent (re-provision it)", device_id)
            return False
        update = sign_message(self.enrolment.update_for(device_id, opd, box), self.hub_key)
        self.workers[0].client.publish(topic(device_id, Channel.GALLERY), update.to_bytes(), qos=1)
        return True

    def push_galleries(self) -> int:
        """Send every active device the current gallery of its OPD (all templates if it has no OPD),
        sealed for the device's own key and signed by the hub. A device registered without a gallery key
        gets nothing (templates never travel in the clear) and is logged."""
        if not self.workers:
            return 0
        sent = 0
        for device in self.registry.all():
            if device.revoked:
                continue
            if self.push_gallery(device.device_id, device.opd):
                sent += 1
        return sent

    def run_retention(self, now: datetime | None = None, *, dry_run: bool = False) -> RetentionReport:
        """Delete what is past its period (hub/retention.py); devices get new galleries if templates went."""
        job = RetentionJob(self.settings.retention, self.store, self.registry, self.quarantine,
                           self.gps_history, self.master)
        report = job.run(now, dry_run=dry_run)
        if report.templates and not dry_run:
            self.push_galleries()
        return report

    @property
    def mqtt(self) -> MqttSettings:
        if self.broker is not None:
            return MqttSettings(host=self.broker.host, port=self.broker.port, protocol=311, username=HUB_USER,
                                password=self.broker_secret)
        return self.settings.mqtt

    @property
    def broker_secret(self) -> str:
        return _secret(self.settings.data_dir / BROKER_SECRET_FILE)

    def device_mqtt(self, device_id: str) -> MqttSettings:
        """Connection settings for a device on this hub's embedded broker (a broker password is issued on
        the first call; demo and tests); with an external broker, the hub's settings without its credentials."""
        if self.broker is None:
            return self.settings.mqtt.model_copy(update={"username": None, "password": None})
        if device_id not in self._device_secrets:
            self._device_secrets[device_id] = self.registry.issue_broker_secret(device_id)
        return MqttSettings(host=self.broker.host, port=self.broker.port, protocol=311, username=device_id,
                            password=self._device_secrets[device_id])

    def start(self) -> Hub:
        if self.settings.embedded_broker:
            self.broker = EmbeddedBroker(self.settings.data_dir / "devices.sqlite", self.broker_secret,
                                         self.settings.mqtt.host, self.settings.mqtt.port,
                                         allow_lan=self.settings.embedded_broker_lan).start()
        try:
            self.presence = HubPresence(self.mqtt, self.settings.instance).start()
        except BaseException:
            if self.broker:
                self.broker.stop()
            raise
        self.start_workers()
        if self.settings.metrics_port is not None:
            self.metrics_server = start_metrics_listener(self.metrics, self.settings.metrics_host,
                                                         self.settings.metrics_port)
        if self.settings.retention.enabled:
            self.retention = DailyRetention(self.run_retention, self.settings.retention.run_at).start()
        return self

    def start_workers(self) -> None:
        """Start the ingest workers and greet the devices, so they resend whatever is unacknowledged."""
        for n in range(max(1, self.settings.workers)):
            worker = IngestWorker(self.ingest, self.mqtt, name=f"hub-{self.settings.instance}-ingest-{n + 1}",
                                  shared_group=self.settings.shared_group)
            self.workers.append(worker.start())
        self.workers[0].greet([d.device_id for d in self.registry.all() if not d.revoked])
        client = self.workers[0].client
        self.assignments = AssignmentPublisher(
            self.master, self.registry, self.hub_key,
            lambda name, payload: client.publish(name, payload, qos=1, retain=True),
            self.settings.assignments_every_s).start()

    def stop_workers(self) -> None:
        if self.assignments:
            self.assignments.stop()
            self.assignments = None
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    def stop(self) -> None:
        if getattr(self, "metrics_server", None) is not None:
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
            self.metrics_server = None
        if self.retention:
            self.retention.stop()
            self.retention = None
        self.stop_workers()
        if self.presence is not None:
            self.presence.stop()
            self.presence = None
        if self.broker:
            self.broker.stop()
            self.broker = None
        self.store.close()

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
