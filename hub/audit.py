"""Auditor's check of a device's event chain: every event present, unaltered, signed by the device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hadir.contract import GENESIS_HASH
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
    note: str = ""  # e.g. that the chain starts after a retention cut

    def summary(self) -> str:
        if not self.events:
            return f"{self.device_id}: no events in the range"
        span = f"seq {self.first_seq}..{self.last_seq}, {self.events} events" + (f"; {self.note}" if self.note else "")
        if self.intact:
            return f"{self.device_id}: intact ({span})"
        return f"{self.device_id}: BROKEN at seq {self.break_seq}: {self.reason} ({span})"


def verify_chain(store: EventStore, registry: DeviceRegistry, device_id: str, start: datetime | None = None,
                 end: datetime | None = None) -> ChainReport:
    """Walk the device's events in sequence order and report the first break, if any.

    A break is a missing sequence number (deleted or never delivered), an event whose prev_hash does not
    match the stored previous event (altered or inserted), or a signature that does not verify (forged or
    altered after signing).

    Retention (hub/retention.py) deletes a prefix of each chain and records its last deleted event as the
    device's anchor: the chain then starts at the first kept event, which must link to the anchor's hash.
    Asked for the whole chain, events missing before its first one are a break unless retention removed them.
    """
    key = registry.public_key(device_id)
    events = store.device_events(device_id, start, end)
    if not events:
        return ChainReport(device_id, 0, None, None, True)
    first, last = events[0].event.seq, events[-1].event.seq

    anchor, note = registry.chain_anchor(device_id), ""

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(device_id, len(events), first, last, False, seq, reason, note)

    before = store.get(f"{device_id}:{first - 1}") if first > 1 else None
    if first == 1:
        expected_prev = GENESIS_HASH
    elif before is not None:
        expected_prev = before.hash
    elif anchor is not None and anchor.seq == first - 1:
        expected_prev = anchor.hash  # the first kept event links to the last one retention deleted
        note = f"starts after the retention cut at seq {anchor.seq} ({anchor.cut_at[:10]})"
    elif start is None and anchor is not None and first <= anchor.seq:
        return broken(first, f"event seq {first} is stored although retention deleted the chain up to seq "
                             f"{anchor.seq}")
    elif start is None:
        cut = anchor.seq if anchor else 0
        return broken(cut + 1, f"event seq {cut + 1} is missing"
                      + (f" (retention deleted the chain up to seq {cut} only)" if anchor else ""))
    else:
        expected_prev = None  # the range starts after a gap we cannot see from inside it
    previous_seq = first - 1
    for item in events:
        ev = item.event
        if ev.seq != previous_seq + 1:
            return broken(previous_seq + 1, f"event seq {previous_seq + 1} is missing")
        if expected_prev is not None and ev.prev_hash != expected_prev:
            return broken(ev.seq, "prev_hash does not match the stored previous event")
        if key is None:
            return broken(ev.seq, "device has no registered key (unknown or revoked)")
        if not verify_event(ev, key):
            return broken(ev.seq, "signature does not verify: the event was altered or forged")
        expected_prev, previous_seq = item.hash, ev.seq
    return ChainReport(device_id, len(events), first, last, True, note=note)
