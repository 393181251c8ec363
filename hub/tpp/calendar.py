"""Non-working days and where each comes from: national holidays, cuti bersama, the policy, the city.

Indonesia's public holidays and the collective leave days (cuti bersama, set each year by a joint
ministerial decree, SKB) come from the `holidays` package (its `public` and `government` categories).
A city adds its own days and may remove a listed day (e.g. offices that stay open on a cuti bersama);
those come from master data as plain `CityDay`s. Every non-working day says which list it came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from hub.tpp.policy import Policy

NATIONAL = "libur nasional"
COLLECTIVE_LEAVE = "cuti bersama"
POLICY_LIST = "daftar kebijakan"
CITY = "daftar kota"


@dataclass(frozen=True)
class DayOff:
    """A date that is not a working day for anyone, and the list that says so."""

    date: date
    name: str
    source: str  # NATIONAL, COLLECTIVE_LEAVE, POLICY_LIST or CITY

    def explain(self) -> str:
        """`"cuti bersama: Cuti Bersama Hari Raya Natal"`: what a payroll officer reads."""
        return f"{self.source}: {self.name}" if self.name else self.source


@dataclass(frozen=True)
class CityDay:
    """A row of the city's own list: a day off it adds, or (`works=True`) a listed day its staff work."""

    date: date
    name: str = ""
    works: bool = False


@lru_cache(maxsize=64)
def _package_days(year: int, category: str) -> tuple[tuple[date, str], ...]:
    import holidays

    days = holidays.country_holidays("ID", years=year, categories=(category,), language="id")
    return tuple(sorted(days.items()))


def national_holidays(year: int) -> dict[date, str]:
    """Indonesia's public holidays of `year` (the `holidays` package), date -> name in Bahasa Indonesia."""
    return dict(_package_days(year, "public"))


def collective_leave(year: int) -> dict[date, str]:
    """Cuti bersama of `year` (the `holidays` package's `government` category for Indonesia).
    Empty for a year whose decree the installed package does not know yet."""
    return dict(_package_days(year, "government"))


def days_off(policy: Policy, years: Iterable[int], city: Iterable[CityDay | date] = ()) -> dict[date, DayOff]:
    """Every non-working date of `years` with its source. When lists overlap the national one is named
    first, then cuti bersama, the policy's list and the city's. A city row with `works=True` removes a
    date from all lists. A plain `date` in `city` is an addition without a name."""
    out: dict[date, DayOff] = {}
    rows = [c if isinstance(c, CityDay) else CityDay(c) for c in city]
    for row in rows:
        if not row.works:
            out[row.date] = DayOff(row.date, row.name, CITY)
    for day in policy.holidays.extra:
        out[day] = DayOff(day, "", POLICY_LIST)
    for year in sorted(set(years)):
        if policy.holidays.cuti_bersama:
            out.update({d: DayOff(d, name, COLLECTIVE_LEAVE) for d, name in collective_leave(year).items()})
        if policy.holidays.national:
            out.update({d: DayOff(d, name, NATIONAL) for d, name in national_holidays(year).items()})
    for row in rows:
        if row.works:
            out.pop(row.date, None)
    return out

