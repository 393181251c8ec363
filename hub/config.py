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


class MapSettings(BaseModel):
    """The web app's maps. Tiles come from a server the city chooses (its own tile server, or a provider it
    has an agreement with); none set: the maps are a plain coordinate view, with no request leaving the hub."""

    tiles_url: str | None = Field(None, pattern=r"^https?://[^\s]+\{z\}[^\s]*$",
                                  description="e.g. https://tiles.ambon.go.id/{z}/{x}/{y}.png")
    attribution: str = Field("", max_length=300)
    center: tuple[float, float] = (-3.6954, 128.1814)  # Balai Kota Ambon
    zoom: int = Field(13, ge=1, le=19)
class Retention(BaseModel):
    """How long the hub keeps each kind of personal data; docs/privacy.md gives the reason for each period.

    Periods end at midnight WIT: "730 days" deletes what is older than the start of the day 730 days ago.
    """

    # The daily run inside the hub service. With several hub processes on one data folder, leave it on in one.
    enabled: bool = True
    run_at: str = Field("02:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="daily, WIT (HH:MM)")
    # Attendance events: the payroll year plus the following year's audit of it. Never shorter than two
    # months, or the month being paid could lose its evidence.
    events_days: int = Field(730, ge=62)
    quarantine_days: int = Field(90, ge=1)  # refused messages: long enough to investigate a device fault
    gps_history_days: int = Field(90, ge=1)  # field fixes kept for the copied-coordinates check
    logs_days: int = Field(730, ge=1)  # the master-data audit log (who changed what)
    templates_after_leaving_days: int = Field(30, ge=0)  # after an employee's end date


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
    # How often sites, staff and duty orders are checked for changes and sent to the devices that changed.
    assignments_every_s: float = Field(60.0, gt=0)
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
    map: MapSettings = MapSettings()
    # The key that encrypts face templates. Kept outside data_dir so that a backup of the data never holds
    # the key (and a copy of the key alone decrypts nothing). Default: <data_dir>-keys/templates.key.
    template_key_file: Path | None = None
    api_max_body_mb: int = Field(25, ge=1, le=500)  # refused (413) before it is read; photos go in several requests
    # Prometheus: /metrics accepts the scrape credential in data_dir/metrics.token (made on first start);
    # or set metrics_port to serve the metrics without a credential on metrics_host (an internal address).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    retention: Retention = Retention()

    @property
    def master_db(self) -> str:
        return self.master_url or f"sqlite:///{self.data_dir / 'master.sqlite'}"

    @property
    def template_key_path(self) -> Path:
        """The configured key file; else one left by older versions in data_dir; else <data_dir>-keys/."""
        if self.template_key_file is not None:
            return self.template_key_file
        legacy = self.data_dir / "templates.key"
        if legacy.exists():
            return legacy
        return self.data_dir.parent / f"{self.data_dir.name}-keys" / "templates.key"
