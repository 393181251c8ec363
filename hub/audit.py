"""Auditor's check of a device's event chain: every event present, unaltered, signed by the device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hadir.contract import GENESIS_HASH, seq_epoch, seq_number
from hadir.signing import verify_event
from hub.registry import DeviceRegistry
from hub.store.base import EventStore


@dataclass(frozen=True)
class ChainReport:
    device_id: str
    events: int
    first_seq: int | None
    last_seq: int | None
    intact: bool
    break_seq: int | None = None
    reason: str = ""
    epochs: int = 1

    def summary(self) -> str:
        if not self.events:
            return f"{self.device_id}: no events in the range"
        span = f"seq {self.first_seq}..{self.last_seq}, {self.events} events"
        if self.epochs > 1:
            span += f", {self.epochs} outbox epochs"
        if self.intact:
            return f"{self.device_id}: intact ({span})"
        return f"{self.device_id}: BROKEN at seq {self.break_seq}: {self.reason} ({span})"


def verify_chain(store: EventStore, registry: DeviceRegistry, device_id: str, start: datetime | None = None,
                 end: datetime | None = None) -> ChainReport:
    """Walk the device's events in sequence order and report the first break, if any.

    A break is a missing sequence number (deleted or never delivered), an event whose prev_hash does not
    match the stored previous event (altered or inserted), or a signature that does not verify (forged or
    altered after signing). Each outbox epoch (see hadir.contract.make_seq) is its own chain from genesis;
    a new epoch is not a break (the report counts them: more than one means the device's outbox was
    replaced, and events that never reached the hub from the old one are lost with it).
    """
    key = registry.public_key(device_id)
    events = store.device_events(device_id, start, end)
    if not events:
        return ChainReport(device_id, 0, None, None, True)
    first, last = events[0].event.seq, events[-1].event.seq
    epochs = len({seq_epoch(e.event.seq) for e in events})

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(device_id, len(events), first, last, False, seq, reason, epochs)

    expected_prev: str | None = None
    previous_seq_seen: int | None = None
    for item in events:
        ev = item.event
        if previous_seq_seen is None or seq_epoch(ev.seq) != seq_epoch(previous_seq_seen):
            # The first event of the range in this epoch.
            if seq_number(ev.seq) == 1:
                expected_prev = GENESIS_HASH
            else:
                before = store.get(f"{device_id}:{ev.seq - 1}")
                if before is None and start is None:
                    return broken(ev.seq - 1, f"event seq {ev.seq - 1} is missing")
                expected_prev = before.hash if before else None  # the range may start after a gap we cannot see
        elif ev.seq != previous_seq_seen + 1:
            return broken(previous_seq_seen + 1, f"event seq {previous_seq_seen + 1} is missing")
        if expected_prev is not None and ev.prev_hash != expected_prev:
            return broken(ev.seq, "prev_hash does not match the stored previous event")
        if key is None:
            return broken(ev.seq, "device has no registered key (unknown or revoked)")
        if not verify_event(ev, key):
            return broken(ev.seq, "signature does not verify: the event was altered or forged")
        expected_prev, previous_seq_seen = item.hash, ev.seq
    return ChainReport(device_id, len(events), first, last, True, epochs=epochs)
