"""Ramadan by year: the expected dates (Umm al-Qura calendar, `hijridate`) against the confirmed ones.

The civil service works Ramadan hours on the dates the government sets (sidang isbat), which can differ by a
day from any computed calendar. So the computed range only warns: when the coming Ramadan has no
confirmed range, the hub says so (start log, API, dashboard) until an admin confirms the dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from hijridate import Gregorian, Hijri

from hub.tpp.policy import Ramadan

RAMADAN, SYAWAL = 9, 10
MAX_DRIFT_DAYS = 3  # a confirmed range further than this from the computed one is most likely a typo


@dataclass(frozen=True)
class ExpectedRamadan:
    hijri_year: int
    start: date  # 1 Ramadan by the Umm al-Qura calendar
    end: date  # the day before 1 Syawal


@dataclass(frozen=True)
class RamadanStatus:
    """The coming (or current) Ramadan: what the calendar expects and what has been confirmed."""

    expected: ExpectedRamadan
    confirmed: Ramadan | None

    @property
    def warning(self) -> str | None:
        """A sentence for officers (Bahasa Indonesia, no API paths) while the dates are not confirmed, else None:
        what is missing, what it means for their staff's hours, and who does what."""
        if self.confirmed is not None:
            return None
        e = self.expected
        return (f"Tanggal Ramadan {e.hijri_year} H belum dikonfirmasi (perkiraan {e.start:%d-%m-%Y} s.d. "
                f"{e.end:%d-%m-%Y}, bisa bergeser sehari menurut sidang isbat). Sampai admin kota memasukkan "
                "tanggal resmi dari pemerintah, presensi dihitung dengan jam kerja biasa, bukan jam kerja Ramadan.")

    @property
    def admin_hint(self) -> str | None:
        """How IT staff confirm the dates (for the hub's log), else None."""
        if self.confirmed is not None:
            return None
        return (f"confirm the dates of Ramadan {self.expected.hijri_year} H as the government set them: "
                f"PUT /ramadan/{self.expected.hijri_year} {{\"start\", \"end\", \"source\"}} (admin)")


def expected_ramadan(hijri_year: int) -> ExpectedRamadan:
    """Ramadan of `hijri_year` by the Umm al-Qura calendar. Raises ValueError outside 1343-1499 H."""
    try:
        start = Hijri(hijri_year, RAMADAN, 1).to_gregorian()
        syawal = Hijri(hijri_year, SYAWAL, 1).to_gregorian()
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"hijri_year: {hijri_year} is outside the supported calendar ({exc})") from None
    return ExpectedRamadan(hijri_year, date(start.year, start.month, start.day),
                           date(syawal.year, syawal.month, syawal.day) - timedelta(days=1))


def coming_ramadan(today: date) -> ExpectedRamadan:
    """The Ramadan under way on `today`, or else the next one (by the computed calendar)."""
    year = Gregorian(today.year, today.month, today.day).to_hijri().year
    for hijri_year in (year - 1, year, year + 1):
        expected = expected_ramadan(hijri_year)
        # A day of slack: the government's last day can be a day after the computed one.
        if expected.end + timedelta(days=1) >= today:
            return expected
    raise ValueError(f"no Ramadan found after {today}")  # unreachable: one falls in every Hijri year


def ramadan_status(today: date, known: Sequence[Ramadan]) -> RamadanStatus:
    """The coming Ramadan and the known range that confirms it (same Hijri year, or overlapping dates)."""
    expected = coming_ramadan(today)
    for r in known:
        if r.hijri_year == expected.hijri_year or (r.hijri_year is None and r.from_ <= expected.end
                                                   and expected.start <= r.to):
            return RamadanStatus(expected, r)
    return RamadanStatus(expected, None)


def check_confirmation(hijri_year: int, start: date, end: date) -> None:
    """Refuse an admin's Ramadan dates that cannot be right. Raises ValueError naming the field."""
    if end < start:
        raise ValueError(f"end: {end} is before start {start}")
    if not 28 <= (end - start).days <= 29:
        raise ValueError(f"end: Ramadan lasts 29 or 30 days, {start}..{end} is {(end - start).days + 1}")
    expected = expected_ramadan(hijri_year)
    if abs((start - expected.start).days) > MAX_DRIFT_DAYS:
        raise ValueError(f"start: {start} is more than {MAX_DRIFT_DAYS} days from 1 Ramadan {hijri_year} H "
                         f"by the calendar ({expected.start})")
