"""Is a fix inside one of the places an employee may check in at (office sites, duty-order destinations)?

Shared by the device (immediate feedback to the person checking in) and the hub (which decides).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    radius_m: float
    label: str = ""
    start: date | None = None  # a duty order's destination is valid only on its dates
    end: date | None = None

    def valid_on(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def contains(self, lat: float, lon: float) -> bool:
        return distance_m(self.lat, self.lon, lat, lon) <= self.radius_m


def inside_any(places: list[Place], lat: float, lon: float, day: date) -> Place | None:
    return next((p for p in places if p.valid_on(day) and p.contains(lat, lon)), None)
