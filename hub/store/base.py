"""What the hub keeps of each event, and the interface every event store implements."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

from hadir.contract import AttendanceEvent


class PutResult(str, Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # same key, same content: already stored, acknowledge again
    FORK = "fork"  # same key, different content: never stored, flagged
    UNSTORABLE = "unstorable"  # this store cannot hold the event (e.g. a time outside its range)


class StoreUnavailable(RuntimeError):
    """The store is down or busy: nothing in the batch is decided, the devices resend it later.
    Any other exception from `put` means something in the batch is bad data (see Ingest)."""


@dataclass(frozen=True)
class StoredEvent:
    event: AttendanceEvent
    received_at: datetime
    flags: tuple[str, ...] = field(default=())  # e.g. clock_disagrees, chain_break, gps_no_satellites

    @property
    def key(self) -> str:
        return self.event.key

    @property
    def hash(self) -> str:
        return self.event.event_hash()  # cheap: the event caches its canonical body

    def to_json(self) -> str:
        # The event's canonical bytes are already at hand (computed for the signature): no re-serialising.
        received = json.dumps(self.received_at.isoformat())
        return f'{{"event": {self.event.to_bytes().decode()}, "received_at": {received}, ' \
               f'"flags": {json.dumps(list(self.flags))}}}'

    @classmethod
    def from_json(cls, text: str) -> StoredEvent:
        data = json.loads(text)
        return cls(AttendanceEvent.model_validate(data["event"]), datetime.fromisoformat(data["received_at"]),
                   tuple(data["flags"]))


@dataclass(frozen=True)
class Expired:
    """One device's events past a retention cutoff, for the retention job (hub/retention.py)."""

    candidates: list[tuple[int, str]]  # (seq, hash) of events captured and received before the cutoff, by seq
    first_kept_seq: int | None  # the lowest seq of the device's events that are not past the cutoff


class EventStore(Protocol):
    """Raw events, kept unchanged. Writes are idempotent by key; nothing assumes per-device order."""

    def put(self, items: list[StoredEvent]) -> list[PutResult]: ...

    def get(self, key: str) -> StoredEvent | None: ...

    def hashes(self, keys: list[str]) -> dict[str, str]:
        """Content hashes of those of `keys` that are stored (one round trip, for batches)."""
        ...

    def between(self, start: datetime, end: datetime) -> list[StoredEvent]: ...

    def device_events(self, device_id: str, start: datetime | None = None,
                      end: datetime | None = None) -> list[StoredEvent]: ...

    def events_of(self, employee_ids: set[str], device_ids: set[str], start: datetime,
                  end: datetime) -> list[StoredEvent]:
        """Events in [start, end) of these employees, and the unknown faces seen by these devices."""
        ...

    def count(self) -> int: ...

    def devices(self) -> list[str]:
        """Every device with at least one stored event."""
        ...

    def expired(self, device_id: str, cutoff: datetime) -> Expired:
        """The device's events captured and received before `cutoff` (both: a wrong device clock cannot
        make a fresh event look old), and the first sequence number that stays."""
        ...

    def delete_through(self, device_id: str, seq: int) -> int:
        """Delete the device's events with sequence numbers up to `seq` (a chain prefix); returns how many."""
        ...

    def close(self) -> None: ...
