"""The TPP policy: schedules, windows, bands and pay rules, read from a versioned TOML file."""

from __future__ import annotations

import sys
from datetime import date, time
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (Jetson)
    import tomli as tomllib

DEFAULT_POLICY = Path(__file__).with_name("default_policy.toml")
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
    national: bool = True
    extra: list[date] = Field(default_factory=list)


class Ramadan(_Model):
    from_: date = Field(alias="from")
    to: date
    schedule: dict[str, WorkDay]


class Policy(_Model):
    name: str
    version: int
    effective_from: date
    timezone: str = "Asia/Jayapura"
    windows: Windows = Windows()
    schedule: dict[str, WorkDay]
    shifts: dict[str, dict[str, WorkDay]] = Field(default_factory=dict)  # named schedules, e.g. night guards
    ramadan: list[Ramadan] = Field(default_factory=list)
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
        for table in (self.schedule, *self.shifts.values(), *(r.schedule for r in self.ramadan)):
            bad = set(table) - set(WEEKDAYS)
            if bad:
                raise ValueError(f"unknown weekday(s) {sorted(bad)}; use {', '.join(WEEKDAYS)}")
        for name, bands in (("late", self.late), ("early", self.early)):
            if not bands or bands[0].from_min != 1 or bands[-1].to_min is not None:
                raise ValueError(f"[[{name}]] bands must start at 1 minute and the last must be open-ended")
            for a, b in zip(bands, bands[1:], strict=False):
                if a.to_min is None or b.from_min != a.to_min + 1:
                    raise ValueError(f"[[{name}]] bands {a.code} and {b.code} leave a gap or overlap")
        if abs(self.pay.discipline_share + self.pay.productivity_share - 1.0) > 1e-9:
            raise ValueError("pay.discipline_share + pay.productivity_share must be 1")
        return self

    def band_percent(self, code: str) -> float:
        for band in (*self.late, *self.early):
            if band.code == code:
                return band.percent
        raise KeyError(code)


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


@lru_cache(maxsize=8)
def load_policy(path: Path | str | None = None) -> Policy:
    """`None` or 'default' gives the shipped default policy."""
    p = DEFAULT_POLICY if path in (None, "default") else Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"policy file {p} not found")
    return parse_policy(p.read_text(), str(p))
