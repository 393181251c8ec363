"""Assemble a running hub from settings: broker (embedded or external), store, ingest workers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hadir.contract import Channel, topic
from hadir.mqtt import MqttSettings
from hadir.signing import load_or_create_key, save_public_key, sign_message
from hub.broker import EmbeddedBroker
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
from hub.store.base import EventStore, StoredEvent

log = logging.getLogger(__name__)

HUB_KEY_FILE = "hub_signing.key"  # Ed25519: signs acknowledgements and galleries
HUB_PUBLIC_FILE = "hub.pub"  # its public half, copied into every device bundle
BROKER_SECRET_FILE = "broker_hub.secret"  # the hub's password on the embedded broker


def hub_public_key_path(data_dir: Path) -> Path:
    """Where the hub's public key is (created with the key on the hub's first start)."""
    load_or_create_key(data_dir / HUB_KEY_FILE)
    path = data_dir / HUB_PUBLIC_FILE
    if not path.exists():
        save_public_key(load_or_create_key(data_dir / HUB_KEY_FILE), path)
    return path


def _secret(path: Path) -> str:
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def open_store(settings: HubSettings) -> EventStore:
    if settings.store == "influx":
        from hub.store.influx_store import InfluxEventStore

        i = settings.influx
        return InfluxEventStore(i.url, i.database, i.username, i.password)
    from hub.store.sqlite_store import SqliteEventStore

    return SqliteEventStore(settings.data_dir / "events.sqlite")


@dataclass
class Hub:
    settings: HubSettings
    on_stored: Callable[[StoredEvent], None] | None = None
    broker: EmbeddedBroker | None = None
    presence: HubPresence | None = None
    workers: list[IngestWorker] = field(default_factory=list)

    def __post_init__(self) -> None:
        d = self.settings.data_dir
        d.mkdir(parents=True, exist_ok=True)
        self.store = open_store(self.settings)
        self.registry = DeviceRegistry(d / "devices.sqlite")
        self.hub_key = load_or_create_key(d / HUB_KEY_FILE)
        hub_public_key_path(d)
        self.hub_public_key = self.hub_key.public_key()
        self.quarantine = Quarantine(d / "quarantine.sqlite")
        self.metrics = IngestMetrics()
        policy = VerifyPolicy(self.settings.clock_tolerance_s, self.settings.trust_replay_clock,
                              self.settings.backlog_tolerance_days * 86400, self.settings.month_close_day)
        self.broadcaster = Broadcaster()
        self.ingest = Ingest(self.store, self.registry, self.quarantine, self.metrics, policy, self._stored,
                             GpsHistory(d / "gps.sqlite"), signer=self.hub_key)
        self._master: MasterData | None = None
        self._device_secrets: dict[str, str] = {}

    def _stored(self, item: StoredEvent) -> None:
        self.broadcaster.publish(item)  # live check-ins for dashboards
        if self.on_stored:
            self.on_stored(item)

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

            self._enrolment = Enrolment(self.master, template_key(self.settings.data_dir / "templates.key"),
                                        FacePipeline(threads=2, embedder=self.settings.embedder))
        return self._enrolment

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
            box = self.registry.box_key(device.device_id)
            if box is None:
                log.error("device %s has no gallery key registered: gallery not sent (re-provision it)",
                          device.device_id)
                continue
            update = sign_message(self.enrolment.update_for(device.device_id, device.opd, box), self.hub_key)
            self.workers[0].client.publish(topic(device.device_id, Channel.GALLERY), update.to_bytes(), qos=1)
            sent += 1
        return sent

    def api(self):  # noqa: ANN201 - FastAPI app, imported lazily (the hub runs without the API too)
        from hub.api.app import api_secret, create_app
        from hub.tpp.policy import load_policy

        return create_app(store=self.store, master=self.master, registry=self.registry,
                          policy=load_policy(self.settings.policy), metrics=self.metrics,
                          secret=api_secret(self.settings.data_dir), broadcaster=self.broadcaster,
                          enrolment=lambda: self.enrolment, push_galleries=self.push_galleries)

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
        return self

    def start_workers(self) -> None:
        """Start the ingest workers and greet the devices, so they resend whatever is unacknowledged."""
        for n in range(max(1, self.settings.workers)):
            worker = IngestWorker(self.ingest, self.mqtt, name=f"hub-{self.settings.instance}-ingest-{n + 1}",
                                  shared_group=self.settings.shared_group)
            self.workers.append(worker.start())
        self.workers[0].greet([d.device_id for d in self.registry.all() if not d.revoked])

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers.clear()

    def stop(self) -> None:
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
