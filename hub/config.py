"""Hub settings: one place per setting; file (TOML) plus HADIR_HUB_* environment overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hadir.mqtt import MqttSettings


class Influx(BaseModel):
    url: str = "http://127.0.0.1:8086"
    database: str = "hadir"
    username: str = "hadir"
    password: str = "hadir"


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HADIR_HUB_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("/var/lib/hadir-hub")
    embedded_broker: bool = True  # false: connect to `mqtt` (Mosquitto in production)
    # The embedded broker has no TLS: it listens beyond loopback only if this says the network is closed.
    embedded_broker_lan: bool = False
    # A short session expiry: a crashed worker's session (and its share of a shared subscription) lapses
    # within minutes; the devices' outboxes, not the broker, keep every event until it is stored.
    mqtt: MqttSettings = MqttSettings(protocol=311, session_expiry_s=300)
    store: Literal["sqlite", "influx"] = "sqlite"
    influx: Influx = Influx()
    workers: int = 1
    # Several hub processes share the load through the shared subscription; each needs its own name so
    # its MQTT sessions (client ids) are its own and survive its restarts.
    instance: str = Field("1", pattern=r"^[a-z0-9-]{1,20}$")
    shared_group: str = "hadir"
    clock_tolerance_s: float = 300.0
    trust_replay_clock: bool = False
    # Events older than this when they arrive, or arriving after their month closed (day N of the next
    # month), are flagged past_dated and count only once approved (hub/ingest/verify.py).
    backlog_tolerance_days: float = 35.0
    month_close_day: int = Field(5, ge=1, le=28)
    policy: str = "default"
    embedder: str = "dlib_resnet_v1"  # must be the devices' embedder: templates of different models never mix
    master_url: str | None = None  # SQLAlchemy URL of master data; default: SQLite in data_dir
    api_host: str = "127.0.0.1"
    api_port: int = 8080

    @property
    def master_db(self) -> str:
        return self.master_url or f"sqlite:///{self.data_dir / 'master.sqlite'}"
