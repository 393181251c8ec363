"""Edge device settings: one place per setting; file (TOML) plus HADIR_EDGE_* environment overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hadir.contract import DEVICE_ID_PATTERN, ClockSource, EventKind
from hadir.mqtt import MqttSettings


class Recognition(BaseModel):
    detector: Literal["short", "full", "both"] = "short"
    threads: int = Field(2, ge=1, le=16)
    # dlib_resnet_v1 (default), faceres (more accurate, 2x slower), mobileface (light, much less accurate).
    embedder: Literal["dlib_resnet_v1", "faceres", "mobileface"] = "dlib_resnet_v1"
    # Written by `hadir-edge calibrate` from enrolment data; unset = the embedder's default (docs/accuracy.md).
    accept: float | None = None
    unknown_below: float | None = None
    min_margin: float = 0.01
    min_frames: int = 3
    cooldown_s: float = 120.0
    # Passive liveness for walk-past terminals (face-mesh planarity, ~1.5 ms a frame); "none" turns it off
    # and events then say liveness method "none".
    liveness: Literal["planarity", "none"] = "planarity"
    liveness_frames: int = Field(6, ge=0, le=60)


class Gps(BaseModel):
    mode: Literal["none", "fixed", "gpsd"] = "none"
    lat: float | None = None  # fixed: the terminal's surveyed coordinates
    lon: float | None = None
    gpsd_host: str = "127.0.0.1"
    gpsd_port: int = 2947


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HADIR_EDGE_", env_nested_delimiter="__", extra="forbid")

    device_id: str = Field("edge-dev-01", pattern=DEVICE_ID_PATTERN)
    kind: EventKind = EventKind.WALK_PAST
    source: str = "usb:0"
    data_dir: Path = Path("/var/lib/hadir-edge")
    key_file: Path | None = None  # default: <data_dir>/device.key
    box_key_file: Path | None = None  # X25519 key galleries are sealed for; default: <data_dir>/box.key
    hub_key_file: Path | None = None  # the hub's public key (bundle's hub.pub); default: <data_dir>/hub.pub
    gallery_file: Path | None = None  # default: <data_dir>/gallery.npz
    clock_source: ClockSource = ClockSource.NTP
    mqtt: MqttSettings = MqttSettings()
    recognition: Recognition = Recognition()
    gps: Gps = Gps()
    telemetry_every_s: float = 60.0

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "device.key"

    @property
    def box_key_path(self) -> Path:
        return self.box_key_file or self.data_dir / "box.key"

    @property
    def hub_key_path(self) -> Path:
        return self.hub_key_file or self.data_dir / "hub.pub"

    @property
    def gallery_path(self) -> Path:
        return self.gallery_file or self.data_dir / "gallery.npz"

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.sqlite"
