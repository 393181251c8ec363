"""The edge <-> hub contract, version 1: topics, payload schemas, validation and canonical encoding.

Both sides import this one module, so a device and the hub cannot disagree on what a valid message is.
docs/contract.md describes the same thing for people; keep the two in step.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timezone
from enum import Enum
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

CONTRACT_VERSION = 1
TOPIC_ROOT = "absensi/v1"
# A walk-past event is ~1 KB; 16 KiB leaves room for growth and still refuses junk early.
MAX_PAYLOAD_BYTES = 16 * 1024
# A gallery (hub -> device) holds every template of a site: 10,000 templates x 128 floats is ~7 MB in base64.
MAX_GALLERY_BYTES = 32 * 1024 * 1024
# Assignments (hub -> device): an OPD's sites, staff and duty orders, ~250 bytes each; 1 MiB is thousands.
MAX_ASSIGNMENTS_BYTES = 1024 * 1024
GENESIS_HASH = "0" * 64
# Nesting bound, checked before parsing: no message of this contract nests deeper than 3 levels, so more
# than this many opening brackets is junk (a nesting bomb would otherwise exhaust the parser's recursion).
MAX_BRACKETS = 64

# A sequence number carries the outbox it was recorded in: seq = epoch * 2**32 + n, n = 1, 2, ... within
# the outbox, epoch drawn at random (1 .. 2**30 - 1) when an outbox is created (0: outboxes made before
# epochs existed). A deleted, truncated or replaced outbox starts a new epoch, so its keys can never
# collide with events the hub already holds. seq < 2**62 fits every store's signed 64-bit integer.
EPOCH_SHIFT = 32
MAX_EPOCH = 2**30 - 1
MAX_SEQ = (MAX_EPOCH << EPOCH_SHIFT) | (2**EPOCH_SHIFT - 1)

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,62}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)


class Channel(str, Enum):
    """Topic leaves. `up/*` is written by the device only, `down/*` by the hub only (see the broker ACL)."""

    EVENT = "up/event"
    STATE = "up/state"
    TELEMETRY = "up/telemetry"
    REPORT = "up/report"
    ACK = "down/ack"
    GALLERY = "down/gallery"
    ASSIGNMENTS = "down/assignments"


def topic(device_id: str, channel: Channel) -> str:
    """The MQTT topic of `channel` for one device, e.g. ``absensi/v1/pi-ambon-01/up/event``."""
    if not _DEVICE_ID_RE.match(device_id):
        raise ValueError(f"device_id {device_id!r} does not match {DEVICE_ID_PATTERN}")
    return f"{TOPIC_ROOT}/{device_id}/{channel.value}"


# Names the hub's own identities use (certificate CN, broker user, client ids): never a device's.
RESERVED_DEVICE_PREFIXES = ("hadir", "hub-")


def reserved_device_id(device_id: str) -> bool:
    """True for names a device may not have: they would carry the hub's broker rights."""
    return device_id.startswith(RESERVED_DEVICE_PREFIXES)


def seq_epoch(seq: int) -> int:
    """The outbox epoch a sequence number belongs to."""
    return seq >> EPOCH_SHIFT


def seq_number(seq: int) -> int:
    """The event's number within its outbox epoch (1 for the first event of an outbox)."""
    return seq & (2**EPOCH_SHIFT - 1)


def make_seq(epoch: int, number: int) -> int:
    if not 0 <= epoch <= MAX_EPOCH or not 1 <= number < 2**EPOCH_SHIFT:
        raise ValueError(f"epoch {epoch} / number {number} out of range")
    return (epoch << EPOCH_SHIFT) | number


def previous_seq(seq: int) -> int | None:
    """The sequence number this event chains to, or None for the first event of an epoch (genesis)."""
    return None if seq_number(seq) == 1 else seq - 1


def uplink_filter() -> str:
    """Subscription filter for everything devices send (used by the hub)."""
    return f"{TOPIC_ROOT}/+/up/#"


def parse_topic(name: str) -> tuple[str, Channel]:
    """Split a topic into (device id, channel); ValueError names what is wrong."""
    prefix = TOPIC_ROOT + "/"
    if not name.startswith(prefix):
        raise ValueError(f"topic {name!r} is not under {TOPIC_ROOT}/")
    device_id, _, leaf = name[len(prefix) :].partition("/")
    if not _DEVICE_ID_RE.match(device_id):
        raise ValueError(f"topic {name!r}: device id {device_id!r} does not match {DEVICE_ID_PATTERN}")
    try:
        return device_id, Channel(leaf)
    except ValueError:
        raise ValueError(f"topic {name!r}: unknown channel {leaf!r}") from None


# ---------------------------------------------------------------------------------------------- schemas


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def body(self) -> dict[str, Any]:
        """Everything except the signature, as JSON-ready values."""
        # Dropping the key afterwards is about twice as fast as pydantic's exclude= (ingest measures it).
        data = self.model_dump(mode="json")
        data.pop("sig", None)
        return data

    def canonical_body(self) -> bytes:
        return canonical(self.body())

    def to_bytes(self) -> bytes:
        return canonical(self.model_dump(mode="json"))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone (UTC, e.g. 2026-11-24T07:21:00Z)")
    return value.astimezone(timezone.utc)


class EventKind(str, Enum):
    WALK_PAST = "walk_past"  # mounted terminal, person passes without stopping
    FIELD_CHECKIN = "field_checkin"  # hand-held device at an assigned place
    UNKNOWN_FACE = "unknown_face"  # a face tracked long enough, matched nobody


class ClockSource(str, Enum):
    NTP = "ntp"
    GPS = "gps"
    RTC = "rtc"
    REPLAY = "replay"  # time from a recorded video's timeline (demo, tests): trusted only if the hub says so
    NONE = "none"  # clock not known to be set: the hub must not trust captured_at


GpsFigure = Literal["sats_used", "hdop", "eph_m", "gps_time"]


class GpsFix(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    mode: Literal[1, 2, 3]  # gpsd: 1 no fix, 2 = 2D, 3 = 3D
    hdop: float | None = Field(default=None, ge=0, le=100)
    eph_m: float | None = Field(default=None, ge=0)
    # None: the receiver did not report it (no GSV/GSA, e.g. a GGA+RMC-only module); 0 is a claim of zero.
    sats_used: int | None = Field(ge=0, le=64)
    gps_time: datetime | None = None
    fixed_site: bool = False  # true: coordinates configured for a mounted terminal, not measured
    # Quality figures the receiver did not report, so the hub knows what the fix was judged on. Left out
    # of the JSON when empty, so events of devices that predate the field keep their signed bytes.
    missing: list[GpsFigure] = Field(default_factory=list, max_length=4, exclude_if=lambda v: not v)

    _tz = field_validator("gps_time")(lambda v: None if v is None else _utc(v))


LivenessResult = Literal["live", "spoof", "inconclusive"]
_SCORE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class Liveness(_Strict):
    """What the device's liveness check concluded and what it measured.

    `result` and `scores` were added after version 1 shipped: they are optional and left out of the
    canonical body when absent, so events signed by older devices still verify. A device that sends them
    needs a hub that knows them (upgrade the hub first)."""

    method: str = Field(min_length=1, max_length=40)
    passed: bool
    score: float = Field(ge=0, le=1)
    result: LivenessResult | None = Field(default=None, description="live / spoof / inconclusive; "
                                          "absent on older devices (then `passed` says it)")
    scores: dict[str, float] | None = Field(default=None, max_length=16,
                                            description="the measured cues behind the result, by name")

    @field_validator("scores")
    @classmethod
    def _score_names(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for name, value in (v or {}).items():
            if not _SCORE_NAME_RE.match(name):
                raise ValueError(f"score name {name!r} must match {_SCORE_NAME_RE.pattern}")
            if value != value or abs(value) > 1e6:  # NaN or absurd
                raise ValueError(f"score {name!r} = {value!r} is not a finite measurement")
        return v

    @model_validator(mode="after")
    def _passed_means_live(self) -> Liveness:
        if self.result is not None and self.passed != (self.result == "live"):
            raise ValueError(f"passed must be true exactly when result is 'live' (result {self.result!r})")
        return self

    @property
    def outcome(self) -> LivenessResult | None:
        """The three-way result; for older events derived from `passed` (None when not evaluated)."""
        if self.method == "none":
            return None
        return self.result or ("live" if self.passed else "spoof")

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in ("result", "scores"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class AttendanceEvent(_Strict):
    schema_version: Literal[1] = 1
    key: str = Field(description="idempotency key: '<device_id>:<seq>'")
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    seq: int = Field(ge=1, le=MAX_SEQ, description="epoch * 2**32 + number in the outbox; never reused")
    kind: EventKind
    employee_id: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    score: float = Field(ge=-1, le=1, description="cosine similarity to the best identity")
    margin: float = Field(ge=0, le=2, description="best minus second-best identity similarity")
    frames: int = Field(ge=1, le=10_000)
    quality: float = Field(ge=0, le=1)
    liveness: Liveness
    captured_at: datetime
    clock_source: ClockSource
    gps: GpsFix | None = None
    model_id: str = Field(min_length=1, max_length=64)
    gallery_version: int = Field(ge=0)
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    sig: str = Field(default="", max_length=200, description="base64 Ed25519 over canonical_body()")

    _tz = field_validator("captured_at")(_utc)

    @field_validator("key")
    @classmethod
    def _key_shape(cls, v: str) -> str:
        dev, sep, seq = v.rpartition(":")
        if not sep or not _DEVICE_ID_RE.match(dev) or not seq.isdigit():
            raise ValueError("must be '<device_id>:<seq>'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> AttendanceEvent:
        if seq_number(self.seq) == 0:
            raise ValueError("seq: the number within the epoch (seq mod 2**32) must be at least 1")
        if self.key != f"{self.device_id}:{self.seq}":
            raise ValueError(f"key {self.key!r} does not equal '<device_id>:<seq>' ({self.device_id}:{self.seq})")
        if (self.kind is EventKind.UNKNOWN_FACE) != (self.employee_id is None):
            raise ValueError("employee_id must be null exactly when kind is unknown_face")
        return self

    # The canonical body and its hash are needed for the signature, the chain and de-duplication: compute
    # them once. (Read through __pydantic_private__: pydantic's attribute hook is slow on the ingest path.)
    _canonical: bytes | None = PrivateAttr(default=None)
    _hash: str | None = PrivateAttr(default=None)
    _bytes: bytes | None = PrivateAttr(default=None)

    def canonical_body(self) -> bytes:
        cache = self.__pydantic_private__
        body = cache.get("_canonical")
        if body is None:
            body = cache["_canonical"] = canonical(self.body())
        return body

    def __eq__(self, other: object) -> bool:
        # Fields only: the cached canonical body is not part of an event's identity.
        return isinstance(other, AttendanceEvent) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(self.canonical_body())

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> AttendanceEvent:
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy._bytes = None
            if set(update) - {"sig"}:
                copy._canonical = copy._hash = None
        return copy

    def event_hash(self) -> str:
        """The hash the next event of this device carries as prev_hash."""
        cache = self.__pydantic_private__
        digest = cache.get("_hash")
        if digest is None:
            digest = cache["_hash"] = hashlib.sha256(self.canonical_body()).hexdigest()
        return digest

    def to_bytes(self) -> bytes:
        # "sig" sorts after every other field name, so the canonical event is the canonical body with the
        # signature appended: no second serialisation (tests/test_contract.py checks the equality).
        cache = self.__pydantic_private__
        raw = cache.get("_bytes")
        if raw is None:
            raw = cache["_bytes"] = self.canonical_body()[:-1] + b',"sig":' + json.dumps(self.sig).encode() + b"}"
        return raw


HASH_PREFIX_LEN = 16


class Ack(_Strict):
    """Hub -> device: these keys are durably stored; the device may delete them from its outbox.

    Signed by the hub's own key. `digests[i]` is the first 16 hex of the stored event's hash for
    `keys[i]`: the device deletes an event only if the hub stored exactly that content."""

    schema_version: Literal[1] = 1
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    keys: list[str] = Field(max_length=1000)
    digests: list[Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]] = Field(default_factory=list, max_length=1000)
    rejected: dict[str, str] = Field(default_factory=dict, max_length=1000,
                                     description="key -> reason: the hub will not store these as they are")
    rejected_digests: dict[str, Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]] = Field(
        default_factory=dict, max_length=1000, description="key -> hash prefix of the copy that was refused")
    resend: bool = Field(False, description="the hub asks for every event the device still holds")
    stored_at: datetime
    sig: str = Field(default="", max_length=200, description="base64 Ed25519 of the hub over canonical_body()")

    _tz = field_validator("stored_at")(_utc)

    @model_validator(mode="after")
    def _paired(self) -> Ack:
        if len(self.digests) != len(self.keys):
            raise ValueError("digests must pair with keys")
        return self


class DeviceState(_Strict):
    """Retained on up/state. 'offline' is the last will (crash or lost link); 'stopped' a clean stop."""

    schema_version: Literal[1] = 1
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    state: Literal["online", "stopped", "offline"]
    at: datetime | None = None
    software: str = ""
    model_id: str = ""
    gallery_version: int = Field(0, ge=0, lt=2**53)
    last_seq: int = Field(0, ge=0, le=MAX_SEQ)
    acked_through: int = Field(0, ge=0, le=MAX_SEQ, description="newest event the hub acknowledged")
    held: int = Field(0, ge=0, description="events the hub refused, kept aside on the device")
    alarm: str = Field("", max_length=200, description="e.g. a corrupt outbox moved aside at start")


class Telemetry(_Strict):
    schema_version: Literal[1] = 1
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    at: datetime
    inference_ms: float = Field(ge=0)
    fps: float = Field(ge=0)
    outbox_depth: int = Field(ge=0)
    outbox_free_mb: float | None = None
    temperature_c: float | None = None
    gps_state: Literal["absent", "no_fix", "2d", "3d", "fixed_site"] = "absent"

    _tz = field_validator("at")(_utc)


EpochReason = Literal["new_outbox", "outbox_missing", "outbox_damaged", "outbox_rolled_back", "outbox_restored",
                      "epoch_full", "reissue"]


class OutboxReport(_Strict):
    """Device -> hub (up/report), signed by the device key: the device started outbox epoch `epoch`, and why.

    Every epoch a device starts is announced once with this record (kept in the outbox until the hub
    acknowledges `key`). When the outbox was lost or damaged, `lost_epoch` / `lost_from` .. `lost_to` is
    the range of sequence numbers the device had issued that may not have reached the hub (from its
    watermark, see edge/outbox/watermark.py); `lost_epoch` None with a damaged outbox: the range is unknown."""

    schema_version: Literal[1] = 1
    key: str = Field(description="'<device_id>:epoch:<epoch>', what the hub's Ack names")
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    epoch: int = Field(ge=1, le=MAX_EPOCH)
    reason: EpochReason
    at: datetime
    lost_epoch: int | None = Field(default=None, ge=0, le=MAX_EPOCH)
    lost_from: int | None = Field(default=None, ge=1, le=MAX_SEQ)
    lost_to: int | None = Field(default=None, ge=1, le=MAX_SEQ)
    detail: str = Field(default="", max_length=300)
    sig: str = Field(default="", max_length=200, description="base64 Ed25519 of the device over canonical_body()")

    _tz = field_validator("at")(_utc)

    @model_validator(mode="after")
    def _consistent(self) -> OutboxReport:
        if self.key != f"{self.device_id}:epoch:{self.epoch}":
            raise ValueError(f"key must be '{self.device_id}:epoch:{self.epoch}'")
        lost = (self.lost_epoch, self.lost_from, self.lost_to)
        if any(v is not None for v in lost):
            if None in lost:
                raise ValueError("lost_epoch, lost_from and lost_to go together")
            if not (seq_epoch(self.lost_from) == seq_epoch(self.lost_to) == self.lost_epoch
                    and self.lost_from <= self.lost_to):
                raise ValueError("lost_from..lost_to must be an ascending range within lost_epoch")
        return self

    @property
    def lost_count(self) -> int:
        """How many sequence numbers the reported range spans (0: none reported)."""
        return 0 if self.lost_from is None or self.lost_to is None else self.lost_to - self.lost_from + 1

    def digest(self) -> str:
        """The hash prefix the hub's Ack carries for this report."""
        return hashlib.sha256(self.canonical_body()).hexdigest()[:HASH_PREFIX_LEN]


class GalleryUpdate(_Strict):
    """Hub -> device (down/gallery): the complete gallery for the device's site(s), replacing the old one.

    Signed by the hub and encrypted for this one device (X25519 + HKDF-SHA256 + AES-256-GCM): `epk_b64`
    is the hub's ephemeral public key, the plaintext is JSON `{"ids": [NIP...], "templates_b64": ...}`
    (float32 little-endian, count x dim). The device applies it only if `model_id` is its own embedder,
    then reports `gallery_version` in its state."""

    schema_version: Literal[1] = 1
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    version: int = Field(ge=1, lt=2**53)
    model_id: str = Field(min_length=1, max_length=64)
    dim: int = Field(ge=1, le=4096)
    count: int = Field(ge=0, le=200_000)
    epk_b64: str = Field(max_length=64)
    nonce_b64: str = Field(max_length=32)
    ciphertext_b64: str
    sig: str = Field(default="", max_length=200, description="base64 Ed25519 of the hub over canonical_body()")


class AssignedSite(_Strict):
    """An office site of the device's OPD: where its staff may check in on any working day."""

    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=100_000)


class AssignedDuty(_Strict):
    """An active duty order (surat tugas) of one of the device's people, with its destination."""

    number: str = Field(min_length=1, max_length=100)
    nip: str = Field(min_length=1, max_length=32)
    destination: str = Field(default="", max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)  # None: the order names no coordinates
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_m: float = Field(gt=0, le=100_000)
    start: date
    end: date


class AssignedPerson(_Strict):
    nip: str = Field(min_length=1, max_length=32)
    name: str = Field(default="", max_length=200)


class Assignments(_Strict):
    """Hub -> device (down/assignments, retained): the sites, staff and current duty orders of the device's
    OPD. Signed by the hub's key; the device keeps the newest valid one on disk, so it works offline."""

    schema_version: Literal[1] = 1
    device_id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    issued_at: datetime
    people: list[AssignedPerson] = Field(default_factory=list, max_length=5000)
    sites: list[AssignedSite] = Field(default_factory=list, max_length=500)
    duty_orders: list[AssignedDuty] = Field(default_factory=list, max_length=2000)
    sig: str = Field(default="", max_length=200, description="base64 Ed25519 of the hub over canonical_body()")

    _tz = field_validator("issued_at")(_utc)

    def canonical_body(self) -> bytes:
        return canonical(self.model_dump(mode="json", exclude={"sig"}))


_MODELS: dict[Channel, type[_Strict]] = {
    Channel.EVENT: AttendanceEvent,
    Channel.STATE: DeviceState,
    Channel.TELEMETRY: Telemetry,
    Channel.REPORT: OutboxReport,
    Channel.ACK: Ack,
    Channel.GALLERY: GalleryUpdate,
    Channel.ASSIGNMENTS: Assignments,
}
_LIMITS = {Channel.GALLERY: MAX_GALLERY_BYTES, Channel.ASSIGNMENTS: MAX_ASSIGNMENTS_BYTES}


# Messages carrying a signature: their values must be canonical, so the signature covers what arrived.
_SIGNED = {Channel.EVENT, Channel.REPORT, Channel.ACK, Channel.GALLERY}

# ------------------------------------------------------------------------------------------- validation


class ContractError(ValueError):
    """A message that breaks the contract. `reason` is a short code the hub counts by."""

    def __init__(self, reason: str, detail: str, field: str | None = None):
        self.reason, self.detail, self.field = reason, detail, field
        where = f" ({field})" if field else ""
        super().__init__(f"{reason}{where}: {detail}")


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps with these options builds a new encoder on every call; the same C encoder, built once, gives
# the same bytes (tests/hadir/test_contract.py compares them) in about two thirds of the time.
_CANONICAL_ENCODER = c_make_encoder(None, _not_json, encode_basestring_ascii, None, ":", ",", True, False,
                                    False) if c_make_encoder is not None else None


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, ASCII. What signatures and hashes are computed over."""
    if _CANONICAL_ENCODER is not None and isinstance(obj, dict):
        return "".join(_CANONICAL_ENCODER(obj, 0)).encode()
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def parse(topic_name: str, payload: bytes, expect: Literal["up", "down"] | None = None
          ) -> tuple[str, Channel, _Strict]:
    """Validate one MQTT message against the contract; return (device id, channel, model).

    `expect` refuses messages of the other direction (the hub reads only up/*, a device only down/*).

    Raises ContractError with reason one of: oversize, bad_topic, malformed_json, not_an_object,
    schema_version, invalid, device_mismatch.
    """
    if len(payload) > MAX_GALLERY_BYTES:
        raise ContractError("oversize", f"{len(payload)} bytes > limit {MAX_GALLERY_BYTES}")
    try:
        device_id, channel = parse_topic(topic_name)
    except ValueError as exc:
        raise ContractError("bad_topic", str(exc)) from None
    limit = _LIMITS.get(channel, MAX_PAYLOAD_BYTES)
    if len(payload) > limit:
        raise ContractError("oversize", f"{len(payload)} bytes > limit {limit}")
    if expect and not channel.value.startswith(expect + "/"):
        raise ContractError("bad_topic", f"{channel.value} is not an {expect}link channel")
    payload = bytes(payload)
    if payload.count(b"[") + payload.count(b"{") > MAX_BRACKETS:
        raise ContractError("malformed_json", f"more than {MAX_BRACKETS} brackets: nested too deep for this contract")
    model_type = _MODELS[channel]
    if channel in _SIGNED:
        # Fast path: what devices and the hub publish is already canonical (to_bytes); one strict parse and a
        # byte comparison prove it. Anything else goes the long way, which says what is wrong.
        try:
            model = model_type.model_validate_json(payload, strict=True)
        except ValidationError:
            pass
        else:
            if model.to_bytes() == payload and getattr(model, "device_id", device_id) == device_id:
                return device_id, channel, model
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ContractError("malformed_json", str(exc) or type(exc).__name__) from None
    if not isinstance(data, dict):
        raise ContractError("not_an_object", f"payload is a JSON {type(data).__name__}, expected an object")
    if "schema_version" not in data:
        raise ContractError("schema_version", "missing (required, this side speaks 1)", "schema_version")
    version = data["schema_version"]
    if type(version) is not int or version != CONTRACT_VERSION:
        raise ContractError("schema_version", f"{version!r} is not supported (this side speaks 1)",
                            "schema_version")
    try:
        # Strict: no booleans for integers, no numbers for strings; what is signed is what was sent.
        model = model_type.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise ContractError("invalid", f"{err['msg']} (and {exc.error_count() - 1} more)"
                            if exc.error_count() > 1 else err["msg"], field) from None
    if getattr(model, "device_id", device_id) != device_id:
        raise ContractError("device_mismatch",
                            f"payload says device {model.device_id!r}, topic says {device_id!r}", "device_id")
    if channel in _SIGNED:
        # The signature is checked over the model's canonical body; refuse any payload whose values would
        # re-encode differently (e.g. 1.0 for 1, another time zone), so it covers exactly what arrived.
        received = canonical({k: v for k, v in data.items() if k != "sig"})
        if received != model.canonical_body():
            raise ContractError("not_canonical", "values are not in canonical form (see docs/contract.md)")
    return device_id, channel, model


def parse_event(topic_name: str, payload: bytes) -> AttendanceEvent:
    device_id, channel, model = parse(topic_name, payload, "up")
    if channel is not Channel.EVENT:
        raise ContractError("bad_topic", f"expected an event topic, got {channel.value}")
    if not isinstance(model, AttendanceEvent):
        raise ContractError("bad_topic", f"an event topic carried a {type(model).__name__}")
    return model


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
