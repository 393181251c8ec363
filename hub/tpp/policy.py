"""The TPP policy: schedules, windows, bands and pay rules as validated plain data.

The policy is a versioned file a city replaces without touching code; reading it is `hub.payroll.policy_file`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WorkDay(_Model):
    start: time
    end: time  # earlier than start: an overnight shift ending the next day

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


class Windows(_Model):
    checkin_opens_before_start_min: int = Field(30, ge=0, le=720)
    checkout_closes_after_end_min: int = Field(240, ge=0, le=720)


class Band(_Model):
    code: str
    from_min: int = Field(ge=1)
    to_min: int | None = None
    percent: float = Field(ge=0, le=100)


class Missing(_Model):
    checkin_code: str = "TL4"
    checkout_code: str = "PSW4"


class Absence(_Model):
    tk_percent: float = Field(3.0, ge=0, le=100)


class Leave(_Model):
    percent: dict[str, float] = Field(default_factory=dict)
    duty_order_percent: float = 0.0


class Pay(_Model):
    discipline_share: float = Field(0.4, ge=0, le=1)
    productivity_share: float = Field(0.6, ge=0, le=1)
    month_cap_percent: float = Field(100.0, ge=0, le=100)
    day_cap_percent: float = Field(0.0, ge=0, le=100)
    rounding: str = Field("floor", pattern="^(floor|round)$")


class Zeroing(_Model):
    consecutive_tk_days: int = Field(7, ge=0)
    tk_days_in_month: int = Field(14, ge=0)


class Threshold(_Model):
    days: int
    action: str


class DisciplinePP94(_Model):
    consecutive_dismissal_days: int = 10
    thresholds: list[Threshold] = Field(default_factory=list)


class Holidays(_Model):
    national: bool = True  # Indonesia's public holidays (the `holidays` package)
    cuti_bersama: bool = True  # the collective leave days of the SKB (the package's `government` category)
    extra: list[date] = Field(default_factory=list)


class Ramadan(_Model):
    """One year's Ramadan as the government set it (1 Ramadan to the day before 1 Syawal, inclusive)."""

    from_: date = Field(alias="from")
    to: date
    hijri_year: int | None = Field(None, ge=1343, le=1500)
    source: str = ""  # the decision the dates come from (sidang isbat, an admin's confirmation)
    schedule: dict[str, WorkDay] | None = None  # None: the policy's [ramadan_schedule]

    @model_validator(mode="after")
    def _order(self) -> Ramadan:
        if self.to < self.from_:
            raise ValueError(f"[[ramadan]] {self.hijri_year or ''}: 'to' {self.to} is before 'from' {self.from_}")
        if (self.to - self.from_).days > 30:
            raise ValueError(f"[[ramadan]] {self.from_}..{self.to}: longer than 30 days")
        return self


class Policy(_Model):
    name: str
    version: int
    effective_from: date
    timezone: str = "Asia/Jayapura"
    windows: Windows = Windows()
    schedule: dict[str, WorkDay]
    shifts: dict[str, dict[str, WorkDay]] = Field(default_factory=dict)  # named schedules, e.g. night guards
    ramadan_schedule: dict[str, WorkDay] = Field(default_factory=dict)  # working hours during Ramadan
    ramadan: list[Ramadan] = Field(default_factory=list)  # the known Ramadan dates, one block per year
    holidays: Holidays = Holidays()
    late: list[Band]
    early: list[Band]
    missing: Missing = Missing()
    absence: Absence = Absence()
    leave: Leave = Leave()
    pay: Pay = Pay()
    zeroing: Zeroing = Zeroing()
    discipline_pp94: DisciplinePP94 = DisciplinePP94()

    @model_validator(mode="after")
    def _check(self) -> Policy:
        tables = (self.schedule, self.ramadan_schedule, *self.shifts.values(),
                  *(r.schedule for r in self.ramadan if r.schedule is not None))
        for table in tables:
            bad = set(table) - set(WEEKDAYS)
            if bad:
                raise ValueError(f"unknown weekday(s) {sorted(bad)}; use {', '.join(WEEKDAYS)}")
        for name, bands in (("late", self.late), ("early", self.early)):
            if not bands or bands[0].from_min != 1 or bands[-1].to_min is not None:
                raise ValueError(f"[[{name}]] bands must start at 1 minute and the last must be open-ended")
            for a, b in zip(bands, bands[1:], strict=False):
                if a.to_min is None or b.from_min != a.to_min + 1:
                    raise ValueError(f"[[{name}]] bands {a.code} and {b.code} leave a gap or overlap")
        if any(r.schedule is None for r in self.ramadan) and not self.ramadan_schedule:
            raise ValueError("a [[ramadan]] block without its own schedule needs [ramadan_schedule]")
        if abs(self.pay.discipline_share + self.pay.productivity_share - 1.0) > 1e-9:
            raise ValueError("pay.discipline_share + pay.productivity_share must be 1")
        return self

    def band_percent(self, code: str) -> float:
        for band in (*self.late, *self.early):
            if band.code == code:
                return band.percent
        raise KeyError(code)

    def ramadan_hours(self, day: date) -> dict[str, WorkDay] | None:
        """The Ramadan schedule when `day` falls in a known Ramadan, else None."""
        for r in self.ramadan:
            if r.from_ <= day <= r.to:
                # No Ramadan hours in the policy at all: the ordinary schedule, never "no working day".
                return (r.schedule if r.schedule is not None else self.ramadan_schedule) or None
        return None

    def with_ramadan(self, confirmed: Iterable[Ramadan]) -> Policy:
        """This policy with Ramadan dates confirmed later (master data): a confirmed year replaces the
        policy's block for the same Hijri year or overlapping dates."""
        confirmed = list(confirmed)
        if not confirmed:
            return self
        kept = [r for r in self.ramadan
                if not any((c.hijri_year is not None and c.hijri_year == r.hijri_year)
                           or (c.from_ <= r.to and r.from_ <= c.to) for c in confirmed)]
        return self.model_copy(update={"ramadan": sorted(kept + confirmed, key=lambda r: r.from_)})
