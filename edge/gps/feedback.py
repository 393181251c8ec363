"""Feedback on the device for a field check-in: where the fix is relative to the assigned places.

The hub decides whether the check-in counts; this only tells the person at once, in Bahasa Indonesia,
so a check-in outside the radius can be repeated at the right place.
"""

from __future__ import annotations

from datetime import date

from hadir.contract import GpsFix
from hadir.geo import Place, distance_m, inside_any


def feedback(fix: GpsFix | None, places: list[Place], day: date) -> tuple[bool, str]:
    """(inside an assigned place, message for the screen)."""
    if fix is None:
        return False, "Lokasi GPS belum didapat: tunggu sinyal satelit, lalu ulangi."
    if not places:
        return True, "Lokasi tercatat."
    place = inside_any(places, fix.lat, fix.lon, day)
    if place is not None:
        return True, f"Lokasi sesuai: {place.label or 'lokasi tugas'}."
    nearest = min((p for p in places if p.valid_on(day)), default=None,
                  key=lambda p: distance_m(p.lat, p.lon, fix.lat, fix.lon))
    if nearest is None:
        return False, "Tidak ada lokasi tugas untuk hari ini."
    d = distance_m(nearest.lat, nearest.lon, fix.lat, fix.lon)
    return False, (f"Di luar radius: {d:.0f} m dari {nearest.label or 'lokasi tugas'} "
                   f"(batas {nearest.radius_m:.0f} m). Presensi ini tidak akan dihitung.")
