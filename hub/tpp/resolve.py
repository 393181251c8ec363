"""Day resolution: raw punches + schedule + holidays + leave + duty orders -> one result per working day.

Pure functions over plain data: no database, no clock, no network. Recompute any month at any time. The
moment of the request (`now`) is an argument: days whose check-in window has not opened are not resolved
(code BELUM) and a day whose check-out window is still open is provisional.

Seconds: punch times are taken to the second (fractions dropped) and window edges are compared to the
second; lateness and early leave count the whole minutes of the exact difference, rounded down (in the
employee's favour) in both directions: 07:30:59 is not late, 15:59:30 before a 16:00 end is not early.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.tpp.calendar import CityDay, DayOff, days_off
from hub.tpp.policy import WEEKDAYS, Band, Policy, WorkDay

MONTH_PATTERN = r"^(19|20)\d{2}-(0[1-9]|1[0-2])$"  # YYYY-MM, years 1900-2099
PRESENT = "HADIR"
ABSENT = "TK"
LEAVE = "CUTI"
DUTY = "DL"
NOT_YET = "BELUM"  # the day's check-in window has not opened yet: nothing has happened
AWAITING_CHECKIN = "BELUM_HADIR"  # no check-in yet, the check-in window is still open
AWAITING_CHECKOUT = "BELUM_PULANG"  # no check-out yet, the check-out window is still open


@dataclass(frozen=True)
class Punch:
    at: datetime  # time zone aware
    valid: bool = True
    reason: str | None = None  # why it does not count (outside geofence, liveness failed, clock flagged...)
    ref: str | None = None  # the event key it came from, so every line is traceable


@dataclass(frozen=True)
class Excuse:
    """Leave (cuti by type) or a duty order (surat perintah tugas), inclusive dates."""

    kind: str  # "leave" or "duty"
    start: date
    end: date
    type: str = ""  # leave type (tahunan, sakit, ...) or the duty order's reference
    ref: str | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Employee:
    nip: str
    name: str = ""
    tpp_base: int = 0
    opd: str | None = None
    start: date | None = None  # first day of service (no deductions before it)
    end: date | None = None
    schedule: dict[str, WorkDay] | None = None  # own schedule (e.g. a shift), else the policy's


@dataclass(frozen=True)
class Deduction:
    date: date
    code: str
    percent: float
    rule: str


@dataclass(frozen=True)
class DayResult:
    date: date
    code: str  # HADIR, TK, CUTI, DL, BELUM, BELUM_HADIR, or TLn / PSWn / BELUM_PULANG joined with '+'
    start: datetime | None = None  # scheduled start and end, local time
    end: datetime | None = None
    checkin: Punch | None = None
    checkout: Punch | None = None
    late_min: int = 0
    early_min: int = 0
    deductions: tuple[Deduction, ...] = ()
    ignored: tuple[tuple[str | None, str], ...] = field(default=())  # (event ref, why)
    note: str = ""
    provisional: bool = False  # may still change: the day has not started, or its check-out window is open

    @property
    def percent(self) -> float:
        return sum(d.percent for d in self.deductions)


# ------------------------------------------------------------------------------------------- calendar


def holiday_set(policy: Policy, years: Iterable[int], extra: Iterable[CityDay | date] = ()) -> frozenset[date]:
    """The non-working dates of `years` (national, cuti bersama, the policy's and the city's lists)."""
    return frozenset(days_off(policy, years, extra))


def month_days(month: str) -> list[date]:
    year, mon = (int(x) for x in month.split("-"))
    return [date(year, mon, d) for d in range(1, calendar.monthrange(year, mon)[1] + 1)]


def workday_for(policy: Policy, employee: Employee, day: date) -> WorkDay | None:
    """The schedule of `day` for this employee, or None when it is not a working day by schedule."""
    name = WEEKDAYS[day.weekday()]
    if employee.schedule is not None:
        return employee.schedule.get(name)
    ramadan = policy.ramadan_hours(day)
    return (ramadan if ramadan is not None else policy.schedule).get(name)


def employed(employee: Employee, day: date) -> bool:
    """Whether `day` lies within the employee's service (start and end inclusive)."""
    return not (employee.start and day < employee.start or employee.end and day > employee.end)


def is_working_day(policy: Policy, employee: Employee, day: date, holidays: Container[date]) -> bool:
    """`holidays`: the non-working dates (a `days_off` mapping or a set of dates)."""
    return employed(employee, day) and day not in holidays and workday_for(policy, employee, day) is not None


# ------------------------------------------------------------------------------------------ resolution


def _band(bands: Sequence[Band], minutes: int) -> Band | None:
    for band in bands:
        if minutes >= band.from_min and (band.to_min is None or minutes <= band.to_min):
            return band
    return None


def whole_minutes(delta: timedelta) -> int:
    """Whole minutes of a non-negative difference, rounded down: 59 s -> 0, 60 s -> 1; negative -> 0."""
    return max(0, int(delta.total_seconds()) // 60)


def to_second(at: datetime) -> datetime:
    """Punch times count to the second: a fraction never tips a punch over an edge or into a minute."""
    return at.replace(microsecond=0) if at.microsecond else at


def shift_bounds(policy: Policy, workday: WorkDay, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(policy.timezone)
    start = datetime.combine(day, workday.start, tz)
    end = datetime.combine(day + timedelta(days=1) if workday.overnight else day, workday.end, tz)
    return start, end


def windows(policy: Policy, start: datetime, end: datetime) -> tuple[datetime, datetime, datetime]:
    """(check-in opens, midpoint, check-out closes): check-in is [opens, midpoint), check-out [midpoint, closes]."""
    opens = start - timedelta(minutes=policy.windows.checkin_opens_before_start_min)
    midpoint = start + (end - start) / 2
    closes = end + timedelta(minutes=policy.windows.checkout_closes_after_end_min)
    return opens, midpoint, closes


def resolve_day(policy: Policy, employee: Employee, day: date, punches: Sequence[Punch],
                excuses: Sequence[Excuse] = (), now: datetime | None = None) -> DayResult:
    """Resolve one working day (the caller checks it is one). `punches` may hold any days' punches.

    `now` (time zone aware): the moment of the request. None resolves the day as complete. Before the
    check-in window opens the day is BELUM; while the check-in window is open a missing check-in is
    BELUM_HADIR; while the check-out window is open a missing check-out is BELUM_PULANG; until the
    check-out window closes the result is provisional. Punches after `now` are listed as ignored.
    Raises ValueError when the day is not a working day for the employee or the leave type is unknown."""
    workday = workday_for(policy, employee, day)
    if workday is None:
        raise ValueError(f"{day} is not a working day for {employee.nip}")
    start, end = shift_bounds(policy, workday, day)
    opens, midpoint, closes = windows(policy, start, end)
    tz = ZoneInfo(policy.timezone)
    now = to_second(now) if now is not None else None
    if now is not None and now < opens:
        # Today's approved leave or duty order is known before work starts: the board says so from midnight
        # instead of counting the person among those not yet in. Later days stay "not yet".
        today = now.astimezone(tz).date() == day
        if not (today and any(e.covers(day) for e in excuses)):
            return DayResult(date=day, code=NOT_YET, start=start, end=end, note="belum terjadi", provisional=True)
    checkin_open = now is not None and now < midpoint
    in_progress = now is not None and now <= closes

    in_day = sorted((p for p in punches if opens - timedelta(hours=6) <= p.at <= closes + timedelta(hours=6)),
                    key=lambda p: p.at)
    ignored: list[tuple[str | None, str]] = []
    valid_in, valid_out = [], []
    for p in in_day:
        local = to_second(p.at).astimezone(tz)
        if not p.valid:
            ignored.append((p.ref, p.reason or "invalid"))
        elif now is not None and local > now:
            ignored.append((p.ref, f"after the moment of this calculation ({now.astimezone(tz):%H:%M:%S})"))
        elif opens <= local < midpoint:
            valid_in.append(p)
        elif midpoint <= local <= closes:
            valid_out.append(p)
        elif local < opens:
            ignored.append((p.ref, f"more than {policy.windows.checkin_opens_before_start_min} min before "
                                   f"the start of work ({start:%H:%M}): not a check-in"))
        else:
            ignored.append((p.ref, f"after the check-out window closed ({closes:%H:%M})"))

    excuse = next((e for e in excuses if e.covers(day)), None)
    checkin = valid_in[0] if valid_in else None
    checkout = valid_out[-1] if valid_out else None
    base = dict(date=day, start=start, end=end, checkin=checkin, checkout=checkout, ignored=tuple(ignored),
                provisional=in_progress)

    if excuse is not None:
        if excuse.kind == "duty":
            pct, code, rule = policy.leave.duty_order_percent, DUTY, f"surat perintah tugas {excuse.type}".strip()
        else:
            if excuse.type not in policy.leave.percent:
                raise ValueError(f"leave type {excuse.type!r} is not in the policy's [leave] percent table")
            pct, code, rule = policy.leave.percent[excuse.type], LEAVE, f"cuti {excuse.type}"
        deductions = (Deduction(day, code, pct, rule),) if pct else ()
        return DayResult(code=code, deductions=deductions, note=rule, **base)

    if checkin is None and checkout is None:
        if checkin_open:
            return DayResult(code=AWAITING_CHECKIN, note="belum presensi masuk", **base)
        return DayResult(code=ABSENT, note="tidak ada presensi yang sah",
                         deductions=(Deduction(day, ABSENT, policy.absence.tk_percent,
                                               "absence.tk_percent: no valid punch, no excuse"),), **base)

    deductions: list[Deduction] = []
    pending = ""
    late = early = 0
    if checkin is None:
        code = policy.missing.checkin_code
        deductions.append(Deduction(day, code, policy.band_percent(code), "missing.checkin_code: no check-in"))
    else:
        late = whole_minutes(to_second(checkin.at) - start)
        band = _band(policy.late, late)
        if band:
            deductions.append(Deduction(day, band.code, band.percent, f"late {late} min (band {band.code})"))
    if checkout is None and in_progress:
        pending = AWAITING_CHECKOUT
    elif checkout is None:
        code = policy.missing.checkout_code
        deductions.append(Deduction(day, code, policy.band_percent(code), "missing.checkout_code: no check-out"))
    else:
        early = whole_minutes(end - to_second(checkout.at))
        band = _band(policy.early, early)
        if band:
            deductions.append(Deduction(day, band.code, band.percent, f"left {early} min early (band {band.code})"))

    cap = policy.pay.day_cap_percent
    if cap and sum(d.percent for d in deductions) > cap:
        scale = cap / sum(d.percent for d in deductions)
        deductions = [Deduction(d.date, d.code, round(d.percent * scale, 6), d.rule + f", day cap {cap} %")
                      for d in deductions]
    code = "+".join([d.code for d in deductions] + ([pending] if pending else [])) or PRESENT
    return DayResult(code=code, late_min=late, early_min=early, deductions=tuple(deductions), **base)


def resolve_month(policy: Policy, employee: Employee, month: str, punches: Sequence[Punch],
                  excuses: Sequence[Excuse] = (), extra_holidays: Iterable[CityDay | date] = (),
                  until: date | None = None, now: datetime | None = None) -> list[DayResult]:
    """Every working day of the month for one employee (up to `until`, inclusive, when given).
    `extra_holidays`: the city's list (plain dates are additions); `now`: see `resolve_day`."""
    days = month_days(month)
    hols = holiday_set(policy, {days[0].year}, extra_holidays)
    ordered = sorted(punches, key=lambda p: p.at)
    stamps = [p.at.timestamp() for p in ordered]
    tz = ZoneInfo(policy.timezone)
    out = []
    for d in days:
        if (until is not None and d > until) or not is_working_day(policy, employee, d, hols):
            continue
        # Hand each day only the punches near it (a day and a half either side covers overnight shifts).
        lo = datetime.combine(d - timedelta(days=1), time(12), tz).timestamp()
        hi = datetime.combine(d + timedelta(days=2), time(12), tz).timestamp()
        near = ordered[bisect_left(stamps, lo):bisect_right(stamps, hi)]
        out.append(resolve_day(policy, employee, d, near, excuses, now))
    return out


def month_days_off(policy: Policy, employee: Employee, month: str,
                   extra_holidays: Iterable[CityDay | date] = ()) -> list[DayOff]:
    """The month's days off that the employee's schedule would have worked, each with the list it came from."""
    days = month_days(month)
    calendar_ = days_off(policy, {days[0].year}, extra_holidays)
    return [calendar_[d] for d in days
            if d in calendar_ and employed(employee, d) and workday_for(policy, employee, d) is not None]


def describe(day: DayResult) -> str:
    """The day's code in words for officers (Bahasa Indonesia), e.g. "terlambat 15 menit, belum pulang"."""
    if day.code in (LEAVE, DUTY):
        return day.note
    simple = {PRESENT: "hadir", ABSENT: "tidak hadir tanpa keterangan", NOT_YET: "belum terjadi",
              AWAITING_CHECKIN: "belum hadir", AWAITING_CHECKOUT: "belum pulang"}
    if day.code in simple:
        return simple[day.code]
    parts = []
    if day.checkin is None:
        parts.append("tidak presensi masuk")
    elif day.late_min:
        parts.append(f"terlambat {day.late_min} menit")
    if day.code.endswith(AWAITING_CHECKOUT):
        parts.append("belum pulang")
    elif day.checkout is None:
        parts.append("tidak presensi pulang")
    elif day.early_min:
        parts.append(f"pulang cepat {day.early_min} menit")
    return ", ".join(parts) or "hadir"
