"""Auditor's check of a device's event chain: every event present, unaltered, signed by the device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hadir.contract import GENESIS_HASH, make_seq, seq_epoch, seq_number
from hadir.signing import verify_event
from hub.epochs import MAX_CHECKED_RANGE
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
    # Events lost on the device that it reported (hub/epochs.py), and epochs it never announced: the chain
    # is then not "intact" though nothing stored was altered.
    gaps: tuple[str, ...] = ()
    unannounced: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """"intact", "gap reported by device", "unannounced epoch change" or "BROKEN"."""
        if self.break_seq is not None:
            return "BROKEN"
        if self.unannounced:
            return "unannounced epoch change"
        return "gap reported by device" if self.gaps else "intact"

    def summary(self) -> str:
        if not self.events and not self.gaps and not self.unannounced:
            return f"{self.device_id}: no events in the range"
        span = f"seq {self.first_seq}..{self.last_seq}, {self.events} events" + (f"; {self.note}" if self.note else "")
        if self.epochs > 1:
            span += f", {self.epochs} outbox epochs"
        found = "; ".join(self.unannounced + self.gaps)
        if self.break_seq is not None:
            return (f"{self.device_id}: BROKEN at seq {self.break_seq}: {self.reason} ({span})"
                    + (f"; also {found}" if found else ""))
        if found:
            return f"{self.device_id}: {self.status.upper()}: {found} ({span})"
        return f"{self.device_id}: intact ({span})"


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
    gaps, unannounced, reported = _device_reports(store, registry, device_id, {seq_epoch(e.event.seq) for e in events},
                                                  whole=start is None and end is None)
    if not events:
        return ChainReport(device_id, 0, None, None, not gaps and not unannounced, gaps=gaps, unannounced=unannounced)
    first, last = events[0].event.seq, events[-1].event.seq
    epochs = len({seq_epoch(e.event.seq) for e in events})

    anchor, note = registry.chain_anchor(device_id), ""

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(device_id, len(events), first, last, False, seq, reason, note, epochs, gaps, unannounced)

    def covered(lo: int, hi: int) -> bool:
        """Whether the device reported seq lo..hi as lost (the gap is then reported, not a break)."""
        return any(a <= lo and hi <= b for a, b in reported)

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
        if covered(missing, seq - 1):
            return None, None  # lost on the device and reported: its first kept event links to nothing we hold
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
            if not covered(previous_seq_seen + 1, ev.seq - 1):
                return broken(previous_seq_seen + 1, f"event seq {previous_seq_seen + 1} is missing")
            expected_prev = None  # reported lost on the device: the link across it cannot be checked
        if expected_prev is not None and ev.prev_hash != expected_prev:
            return broken(ev.seq, "prev_hash does not match the stored previous event")
        if key is None:
            return broken(ev.seq, "device has no registered key (unknown or revoked)")
        if not verify_event(ev, key):
            return broken(ev.seq, "signature does not verify: the event was altered or forged")
        expected_prev, previous_seq_seen = item.hash, ev.seq
    return ChainReport(device_id, len(events), first, last, not gaps and not unannounced, note=note, epochs=epochs,
                       gaps=gaps, unannounced=unannounced)


def _device_reports(store: EventStore, registry: DeviceRegistry, device_id: str, epochs_in_range: set[int],
                    whole: bool) -> tuple[tuple[str, ...], tuple[str, ...], list[tuple[int, int]]]:
    """(reported gaps still missing at the hub, unannounced epoch changes, reported lost ranges) of a device.
    Gaps and unannounced epochs are listed for the whole chain, or for the epochs within a time range."""
    gaps, unannounced, reported = [], [], []
    for rec in registry.epochs.problems(device_id):
        if rec.lost_from is not None and rec.lost_to is not None:
            reported.append((rec.lost_from, rec.lost_to))
        relevant = whole or rec.epoch in epochs_in_range or rec.lost_epoch in epochs_in_range
        if not relevant:
            continue
        if not rec.announced:
            unannounced.append(rec.problem())
            continue
        missing = _missing(store, device_id, rec.lost_from, rec.lost_to)
        if missing is not None and rec.lost_missing is not None:
            # Never more than were missing when the report came: retention may have deleted some since.
            missing = min(missing, rec.lost_missing)
        if missing == 0:
            continue  # reported, but every event of the range reached the hub before the loss
        what = "range unknown" if rec.lost_from is None else (
            f"epoch {rec.lost_epoch} seq {seq_number(rec.lost_from)}..{seq_number(rec.lost_to)}"
            + (f", {missing} events not at the hub" if missing is not None else ""))
        gaps.append(f"gap reported by device ({rec.reason}, {rec.reported_at[:19]}): {what}")
    return tuple(gaps), tuple(unannounced), reported


def _missing(store: EventStore, device_id: str, lo: int | None, hi: int | None) -> int | None:
    """How many of seq lo..hi the store lacks now (None: no range, or too long to count)."""
    if lo is None or hi is None or hi - lo >= MAX_CHECKED_RANGE:
        return None
    keys = [f"{device_id}:{s}" for s in range(lo, hi + 1)]
    return len(keys) - sum(len(store.hashes(keys[i:i + 5000])) for i in range(0, len(keys), 5000))
