"""Checks on a contract-valid, signature-verified event before it is stored: its clock, its age, its place
in the chain (the signature itself is checked in worker.py, a batch at a time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from hadir.contract import GENESIS_HASH, AttendanceEvent, ClockSource, previous_seq
from hadir.wit import WIT


@dataclass(frozen=True)
class VerifyPolicy:
    clock_tolerance_s: float = 300.0  # capture vs receive time beyond this, for a live event: flag
    trust_replay_clock: bool = False  # accept 'replay' clock (recorded video, demo) as attendance time
    # A backlog after an outage is normal; beyond this age, or after its month's payroll closed (day
    # `month_close_day` of the next month, WIT), an event is 'past_dated': kept, shown, not counted
    # unless an officer approves it (a correction).
    backlog_tolerance_s: float = 35 * 86400
    month_close_day: int = 5
    # Whether the payroll office has closed a month ("YYYY-MM", hub/corrections.py): an event of a closed
    # month is past-dated whatever its age.
    month_closed: Callable[[str], bool] | None = None


@lru_cache(maxsize=256)
def _month_and_deadline(year: int, month: int, close_day: int) -> tuple[str, datetime]:
    """A WIT month's label and the first moment after its payroll close (once per month, not per event)."""
    start = datetime(year, month, 1, tzinfo=WIT)
    closes = (start + timedelta(days=32)).replace(day=close_day)
    return f"{year:04d}-{month:02d}", closes + timedelta(days=1)


def past_dated(captured_at: datetime, received_at: datetime, policy: VerifyPolicy) -> bool:
    if (received_at - captured_at).total_seconds() > policy.backlog_tolerance_s:
        return True
    local = captured_at.astimezone(WIT)
    month, deadline = _month_and_deadline(local.year, local.month, policy.month_close_day)
    if policy.month_closed is not None and policy.month_closed(month):
        return True
    return received_at >= deadline


def previous_keys(events: list[AttendanceEvent]) -> list[str]:
    return [f"{e.device_id}:{p}" for e in events if (p := previous_seq(e.seq)) is not None]


def flags_for(event: AttendanceEvent, received_at: datetime, known_hashes: dict[str, str],
              policy: VerifyPolicy) -> list[str]:
    """Flags are facts the day resolution weighs; the raw event is kept either way.

    `known_hashes` maps event keys to their hashes for the previous events already known (stored or in
    the same batch); an unknown previous event is not a break: it may simply arrive later.
    """
    flags = []
    if event.clock_source is ClockSource.NONE:
        flags.append("clock_unset")
    elif event.clock_source is ClockSource.REPLAY:
        if not policy.trust_replay_clock:
            flags.append("clock_replay")
    else:
        # A backlog arrives late, so only a capture time in the future beyond tolerance is suspicious
        # on its own; a late arrival is normal after an outage.
        ahead = (event.captured_at - received_at).total_seconds()
        if ahead > policy.clock_tolerance_s:
            flags.append("clock_ahead")
        elif past_dated(event.captured_at, received_at, policy):
            flags.append("past_dated")
    if event.gps is not None:
        if event.gps.gps_time is not None and event.clock_source is not ClockSource.REPLAY:
            skew = abs((event.captured_at - event.gps.gps_time).total_seconds())
            if skew > policy.clock_tolerance_s:
                flags.append("clock_disagrees_gps")
        if event.gps.mode >= 2 and event.gps.sats_used == 0 and not event.gps.fixed_site:
            flags.append("gps_no_satellites")
    prev = previous_seq(event.seq)
    if prev is None:  # the first event of an outbox epoch
        if event.prev_hash != GENESIS_HASH:
            flags.append("chain_break")
    else:
        previous = known_hashes.get(f"{event.device_id}:{prev}")
        if previous is not None and previous != event.prev_hash:
            flags.append("chain_break")
    return flags
