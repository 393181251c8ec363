"""Spoofed-location heuristics at the hub: the device decides nothing, the hub flags what looks forged.

- impossible speed between consecutive fixes of one device (a fake-GPS app jumping across the city);
- the exact same coordinates reported by another device or on another day (copied coordinates, the
  trick that exposed hundreds of ASN elsewhere), but only when a genuine repeat is improbable: a receiver
  that reports 4-decimal NMEA minutes (a 0.19 m grid) with metres of scatter repeats itself often at a
  busy office, one that reports 1e-7 degrees practically never. The chance of an honest repeat is
  estimated from the coordinate's grid (its precision), the fix's scatter (eph, or hdop x 2.5 m) and how
  many fixes were seen nearby; the flag is raised only when that expected number is below 1 %;
- a fix claimed without satellites is flagged in verify.py.
Fixed-site coordinates of mounted terminals are configured, not measured, and are exempt.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime
from pathlib import Path

from hadir.contract import AttendanceEvent
from hadir.geo import distance_m
from hadir.sqlite import connect
from hadir.wit import WIT

METRES_PER_DEGREE = 111_320.0
# Grids receivers report on, coarsest first: NMEA minutes with 3/4/5 decimals, decimal degrees with 5/6.
_GRIDS_DEG = sorted([1e-3 / 60, 1e-4 / 60, 1e-5 / 60, 1e-5, 1e-6], reverse=True)
STORED_GRID_DEG = 1e-7  # what the history keeps (lat_e7)


def coordinate_grid_deg(lat: float, lon: float) -> float:
    """The coarsest grid both coordinates lie on (the receiver's reporting precision), in degrees."""
    for step in _GRIDS_DEG:
        if all(abs(v / step - round(v / step)) < 1e-3 for v in (lat, lon)):
            return step
    return STORED_GRID_DEG


def honest_repeat_probability(grid_m: float, scatter_m: float) -> float:
    """Chance that two independent fixes of one place (2D Gaussian, sigma = scatter) share a grid cell."""
    return min(1.0, grid_m**2 / (4 * math.pi * max(scatter_m, 0.1) ** 2))


class GpsHistory:
    def __init__(self, path: Path | str, max_speed_kmh: float = 200.0, max_expected_repeats: float = 0.01):
        self.max_speed_kmh = max_speed_kmh
        self.max_expected_repeats = max_expected_repeats
        self._lock = threading.Lock()
        self._db = connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS fixes (lat_e7 INTEGER, lon_e7 INTEGER, device_id TEXT, "
                         "day TEXT, seq INTEGER, at TEXT, PRIMARY KEY (device_id, seq))")
        self._db.execute("CREATE INDEX IF NOT EXISTS fixes_coord ON fixes (lat_e7, lon_e7)")

    def older_than(self, cutoff: datetime, *, delete: bool = False) -> int:
        """How many fixes were captured before `cutoff`; with delete=True, delete them (retention)."""
        verb = "DELETE" if delete else "SELECT COUNT(*)"
        with self._lock:
            cur = self._db.execute(f"{verb} FROM fixes WHERE julianday(at) < julianday(?)", (cutoff.isoformat(),))
            return cur.rowcount if delete else cur.fetchone()[0]

    def check(self, ev: AttendanceEvent) -> list[str]:
        """Flags for this event's fix, and remember it (idempotent per device and sequence)."""
        if ev.gps is None or ev.gps.fixed_site or ev.gps.mode < 2:
            return []
        flags = []
        lat_e7, lon_e7 = round(ev.gps.lat * 1e7), round(ev.gps.lon * 1e7)
        day = ev.captured_at.astimezone(WIT).date().isoformat()
        with self._lock:
            same = self._db.execute(
                "SELECT 1 FROM fixes WHERE lat_e7 = ? AND lon_e7 = ? AND NOT (device_id = ? AND seq = ?) "
                "AND (device_id != ? OR day != ?) LIMIT 1",
                (lat_e7, lon_e7, ev.device_id, ev.seq, ev.device_id, day)).fetchone()
            if same:
                same = self._improbable(ev, lat_e7, lon_e7, day)
            neighbours = self._db.execute(
                "SELECT lat_e7, lon_e7, at FROM fixes WHERE device_id = ? AND seq IN (?, ?)",
                (ev.device_id, ev.seq - 1, ev.seq + 1)).fetchall()
            self._db.execute("INSERT OR IGNORE INTO fixes VALUES (?, ?, ?, ?, ?, ?)",
                             (lat_e7, lon_e7, ev.device_id, day, ev.seq, ev.captured_at.isoformat()))
        if same:
            flags.append("gps_duplicate_coordinates")
        for lat, lon, at in neighbours:
            hours = abs((ev.captured_at - datetime.fromisoformat(at)).total_seconds()) / 3600
            km = distance_m(ev.gps.lat, ev.gps.lon, lat / 1e7, lon / 1e7) / 1000
            if km > 1.0 and (hours == 0 or km / hours > self.max_speed_kmh):
                flags.append("gps_impossible_speed")
                break
        return flags

    def _improbable(self, ev: AttendanceEvent, lat_e7: int, lon_e7: int, day: str) -> bool:
        """Is an exact repeat of this fix unlikely to be honest? (caller holds the lock)"""
        gps = ev.gps
        if gps is None:  # only events with a fix reach here
            return False
        scatter = gps.eph_m if gps.eph_m else (gps.hdop or 2.0) * 2.5
        grid_m = coordinate_grid_deg(gps.lat, gps.lon) * METRES_PER_DEGREE
        reach = round(4 * scatter / METRES_PER_DEGREE * 1e7)  # fixes within 4 sigma could have landed here
        (nearby,) = self._db.execute(
            "SELECT COUNT(*) FROM fixes WHERE lat_e7 BETWEEN ? AND ? AND lon_e7 BETWEEN ? AND ? "
            "AND (device_id != ? OR day != ?)",
            (lat_e7 - reach, lat_e7 + reach, lon_e7 - reach, lon_e7 + reach, ev.device_id, day)).fetchone()
        return nearby * honest_repeat_probability(grid_m, scatter) < self.max_expected_repeats
