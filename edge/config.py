"""Edge device settings: one place per setting; file (TOML) plus HADIR_EDGE_* environment overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hadir.contract import DEVICE_ID_PATTERN, ClockSource, EventKind
from hadir.mqtt import MqttSettings


class Recognition(BaseModel):
    # auto: BlazeFace short range over the frame and tiles, faces from min_face_px at any resolution
    # (docs/accuracy.md gives the minimum face size per resolution); short/full: one whole-frame pass.
    detector: Literal["auto", "short", "full", "both"] = "auto"
    min_face_px: float = Field(40.0, ge=16, le=400)
    tiles_per_frame: int = Field(8, ge=1, le=200)  # video: tiles searched per frame, in turn
    threads: int = Field(2, ge=1, le=16)
    # One of the manifest's embedders (edge/models/manifest.json; docs/accuracy.md compares them).
    embedder: str = "dlib_resnet_v1"
    # Written by `hadir-edge calibrate` (target share of strangers accepted at the gallery's size);
    # unset = the embedder's shipped default (edge/models/manifest.json, docs/accuracy.md).
    accept: float | None = None
    unknown_below: float | None = None
    min_margin: float = 0.01  # lead over the second identity, or over a stranger at unknown_below
    min_frames: int = Field(2, ge=1, le=60)  # frames that must each point at the accepted person
    min_agreement: float = Field(0.5, ge=0.0, le=1.0)  # ... and this share of the track's frames
    cooldown_s: float = 120.0
    # Walk-past liveness. "passive" (default): judged over the whole track from texture (MiniFASNet), face
    # motion and blinks, result live / spoof / inconclusive in every event (about 9 ms per face per frame;
    # docs/accuracy.md). "planarity": the older check over the decision's frames. "none": events say
    # liveness method "none".
    liveness: Literal["passive", "planarity", "none"] = "passive"
    liveness_frames: int = Field(6, ge=0, le=60)  # planarity only: frames a decision waits for
    liveness_min_seconds: float = Field(0.4, ge=0, le=10)  # passive: shorter tracks are inconclusive
    liveness_max_wait_s: float = Field(3.0, ge=0.5, le=30)  # passive: longest a decision waits for a verdict

    @field_validator("embedder")
    @classmethod
    def _shipped_embedder(cls, value: str) -> str:
        from edge.infer.runtime import check_embedder

        return check_embedder(value)


class Gps(BaseModel):
    mode: Literal["none", "fixed", "gpsd"] = "none"
    lat: float | None = None  # fixed: the terminal's surveyed coordinates
    lon: float | None = None
    gpsd_host: str = "127.0.0.1"
    gpsd_port: int = 2947


class FieldMode(BaseModel):
    """Field check-in mode (`hadir-edge field`): a touch page on the device for staff on duty."""

    port: int = Field(8765, ge=1024, le=65535)  # the page is served on 127.0.0.1 only
    # Drawn at random for each check-in (edge/field/challenge.py).
    challenges: list[Literal["blink", "turn_left", "turn_right"]] = Field(
        default_factory=lambda: ["blink", "turn_left", "turn_right"], min_length=1)
    # measured: action AND texture cue (edge/infer/active.py, docs/accuracy.md). geometry_only: head
    # movement without the texture cue, which a replayed video passes: demonstrations and tests only.
    challenge_checks: Literal["measured", "geometry_only"] = "measured"
    challenge_timeout_s: float = Field(10.0, gt=0, le=60)
    face_timeout_s: float = Field(20.0, gt=0, le=120)  # no decision within this: the check-in ends
    result_shown_s: float = Field(60.0, gt=0)  # how long a result stays on screen


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HADIR_EDGE_", env_nested_delimiter="__", extra="forbid")

    device_id: str = Field("edge-dev-01", pattern=DEVICE_ID_PATTERN)
    kind: EventKind = EventKind.WALK_PAST
    # walk_past: a mounted terminal records everyone passing; field: a hand-held device records a check-in
    # when its user asks on the touch page (the same as `hadir-edge field`).
    mode: Literal["walk_past", "field"] = "walk_past"
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
    field: FieldMode = FieldMode()
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
    def assignments_path(self) -> Path:
        return self.data_dir / "assignments.json"

    @property
    def gallery_path(self) -> Path:
        return self.gallery_file or self.data_dir / "gallery.npz"

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.sqlite"
