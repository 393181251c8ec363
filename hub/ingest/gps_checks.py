"""Spoofed-location heuristics at the hub: the device decides nothing, the hub flags what looks forged.

- impossible speed between consecutive fixes of one device (a fake-GPS app jumping across the city);
- the exact same coordinates reported by another device or on another day (copied coordinates, the
  trick that exposed hundreds of ASN elsewhere: a real receiver never repeats to 1e-7 degrees);
- a fix claimed without satellites is flagged in verify.py.
Fixed-site coordinates of mounted terminals are configured, not measured, and are exempt.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from hadir.contract import AttendanceEvent
from hadir.geo import distance_m
from hadir.sqlite import connect
from hadir.wit import WIT


class GpsHistory:
    def __init__(self, path: Path | str, max_speed_kmh: float = 200.0):
        self.max_speed_kmh = max_speed_kmh
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
