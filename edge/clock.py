"""Which clock stamps an event, and whether it can be trusted.

A Raspberry Pi without an RTC boots after a power cut with a stale date until NTP or GPS sets it. An
event stamped then must not count as attendance, so the device says `clock_source = none` and the hub
flags it. The guard distrusts the clock when it is before the build-time floor, when it runs backwards
behind the last event this device recorded, or when the system reports it unsynchronised.

`clock_source = "gps"` is claimed only once a GPS fix has agreed with the system clock: an event
recorded before any fix (a field device just switched on, indoors) falls back to what NTP says, and to
`none` when the system clock is not known to be synchronised.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime, timezone

from hadir.contract import ClockSource, GpsFix

FLOOR = datetime(2025, 1, 1, tzinfo=timezone.utc)
# A fix's time and the system clock agreeing within this (fixes are up to 10 s old) means the clock is on GPS.
GPS_AGREEMENT_S = 15.0


def timedatectl_synchronised() -> bool | None:
    """systemd's view of NTP sync (None when it cannot be asked, e.g. in a container)."""
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                             text=True, timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return {"yes": True, "no": False}.get(value)


class ClockGuard:
    def __init__(self, configured: ClockSource, *, clock: Callable[[], datetime] | None = None,
                 synchronised: Callable[[], bool | None] = timedatectl_synchronised,
                 last_event_at: datetime | None = None, floor: datetime = FLOOR):
        self.configured, self.floor = configured, floor
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.synchronised = synchronised
        self.last = last_event_at
        self.gps_agreed = False  # a GPS fix's time has matched the system clock since start

    def _gps_source(self, at: datetime, gps: GpsFix | None) -> ClockSource:
        if gps is not None and gps.gps_time is not None and not gps.fixed_site:
            self.gps_agreed = abs((at - gps.gps_time).total_seconds()) <= GPS_AGREEMENT_S
        # Not (yet) confirmed by GPS: the clock is only as good as NTP made it.
        return ClockSource.GPS if self.gps_agreed else ClockSource.NTP

    def source_for(self, at: datetime, gps: GpsFix | None = None) -> ClockSource:
        """The clock source to put on an event stamped `at` (and remember it as the latest); `gps` is the
        fix the event carries (None: no fix)."""
        if self.configured in (ClockSource.NONE, ClockSource.REPLAY):
            return self.configured
        if at < self.floor:
            return ClockSource.NONE
        source = self._gps_source(at, gps) if self.configured is ClockSource.GPS else self.configured
        synced = self.synchronised() if source is ClockSource.NTP else None
        if synced is False:
            return ClockSource.NONE
        if self.last is not None and at < self.last and synced is not True:
            return ClockSource.NONE  # running backwards, and nothing says it was just corrected
        self.last = at if self.last is None or at > self.last or synced else self.last
        return source
