"""Auditor's check of a device's event chain: every event present, unaltered, signed by the device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hadir.contract import GENESIS_HASH, make_seq, seq_epoch, seq_number
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
    epochs: int = 1

    def summary(self) -> str:
        if not self.events:
            return f"{self.device_id}: no events in the range"
        span = f"seq {self.first_seq}..{self.last_seq}, {self.events} events" + (f"; {self.note}" if self.note else "")
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

    Retention (hub/retention.py) deletes a prefix of each chain and records its last deleted event as the
    device's anchor: the chain then starts at the first kept event, which must link to the anchor's hash.
    Asked for the whole chain, events missing before its first one are a break unless retention removed them.
    """
    key = registry.public_key(device_id)
    events = store.device_events(device_id, start, end)
    if not events:
        return ChainReport(device_id, 0, None, None, True)
    first, last = events[0].event.seq, events[-1].event.seq
    epochs = len({seq_epoch(e.event.seq) for e in events})

    anchor, note = registry.chain_anchor(device_id), ""

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(device_id, len(events), first, last, False, seq, reason, note, epochs)

    def start_of_epoch(seq: int) -> tuple[str | None, ChainReport | None]:
        """What the first event of an epoch within the range must link to, or the break found there."""
        nonlocal note
        if seq_number(seq) == 1:
            return GENESIS_HASH, None
        before = store.get(f"{device_id}:{seq - 1}")
        if before is not None:
            return before.hash, None
        if anchor is not None and anchor.seq == seq - 1:
            note = f"starts after the retention cut at seq {anchor.seq} ({anchor.cut_at[:10]})"
            return anchor.hash, None  # the first kept event links to the last one retention deleted
        if start is not None:
            return None, None  # the range starts after a gap we cannot see from inside it
        if anchor is not None and seq_epoch(anchor.seq) == seq_epoch(seq) and seq <= anchor.seq:
            return None, broken(seq, f"event seq {seq} is stored although retention deleted the chain up to "
                                     f"seq {anchor.seq}")
        cut = anchor.seq if anchor is not None and seq_epoch(anchor.seq) == seq_epoch(seq) else None
        missing = make_seq(seq_epoch(seq), 1) if cut is None else cut + 1
        return None, broken(missing, f"event seq {missing} is missing"
                            + (f" (retention deleted the chain up to seq {cut} only)" if cut is not None else ""))

    expected_prev: str | None = None
    previous_seq_seen: int | None = None
    for item in events:
        ev = item.event
        if previous_seq_seen is None or seq_epoch(ev.seq) != seq_epoch(previous_seq_seen):
            expected_prev, failure = start_of_epoch(ev.seq)  # the first event of the range in this epoch
            if failure is not None:
                return failure
        elif ev.seq != previous_seq_seen + 1:
            return broken(previous_seq_seen + 1, f"event seq {previous_seq_seen + 1} is missing")
        if expected_prev is not None and ev.prev_hash != expected_prev:
            return broken(ev.seq, "prev_hash does not match the stored previous event")
        if key is None:
            return broken(ev.seq, "device has no registered key (unknown or revoked)")
        if not verify_event(ev, key):
            return broken(ev.seq, "signature does not verify: the event was altered or forged")
        expected_prev, previous_seq_seen = item.hash, ev.seq
    return ChainReport(device_id, len(events), first, last, True, note=note, epochs=epochs)
