"""`hadir tpp simulate`: a what-if month for payroll officers, from plain data (a YAML file's contents).

Inputs are checked strictly and every refusal names the field (`punches[3].at: ...`), because a silently
dropped punch or leave changes someone's pay. Reading the file is `hub.payroll.scenario_file`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.tpp.calendar import CityDay
from hub.tpp.compute import TppResult, compute_tpp
from hub.tpp.policy import Policy
from hub.tpp.resolve import MONTH_PATTERN, Employee, Excuse, Punch, month_days, month_days_off, resolve_month


class ScenarioError(ValueError):
    """The scenario cannot be simulated; `problems` are lines of the form `field: what is wrong`."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def needs_time(value: Any) -> Any:
    """Refuse a date without a time for a punch: "2026-11-09" would silently become midnight."""
    if isinstance(value, date) and not isinstance(value, datetime):
        raise ValueError(f"needs a time (YYYY-MM-DDTHH:MM), got the date {value.isoformat()}")
    if isinstance(value, str) and len(value.strip()) <= 10:
        raise ValueError(f"needs a time (YYYY-MM-DDTHH:MM), got {value!r}")
    return value


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Span(_M):
    nip: str = Field(min_length=1)
    from_: date = Field(alias="from")
    to: date

    @field_validator("to")
    @classmethod
    def _after_from(cls, to: date, info: Any) -> date:
        start = info.data.get("from_")
        if start is not None and to < start:
            raise ValueError(f"{to} is before from {start}")
        return to


class SimEmployee(_M):
    nip: str = Field(min_length=1)
    name: str = ""
    tpp_base: int = Field(ge=0)
    productivity: float = Field(1.0, ge=0, le=1)
    start: date | None = None
    end: date | None = None
    shift: str | None = None  # a [shifts.<name>] of the policy

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: date | None, info: Any) -> date | None:
        start = info.data.get("start")
        if end is not None and start is not None and end < start:
            raise ValueError(f"{end} is before start {start}")
        return end


class SimLeave(_Span):
    type: str = Field(min_length=1)  # a leave type of the policy's [leave] table


class SimDuty(_Span):
    ref: str = ""


class SimPunch(_M):
    nip: str = Field(min_length=1)
    at: datetime  # local time of the policy's zone unless an offset is given

    @field_validator("at", mode="before")
    @classmethod
    def _with_time(cls, value: Any) -> Any:
        return needs_time(value)


class Scenario(_M):
    month: str = Field(pattern=MONTH_PATTERN)
    policy: str = "default"
    as_of: datetime | None = None  # the moment of the request: simulate a month still under way
    employees: list[SimEmployee] = Field(min_length=1)
    holidays: list[date] = Field(default_factory=list)  # the city's additions
    holidays_removed: list[date] = Field(default_factory=list)  # listed days off the city works
    leave: list[SimLeave] = Field(default_factory=list)
    duty_orders: list[SimDuty] = Field(default_factory=list)
    punches: list[SimPunch] = Field(default_factory=list)

    @field_validator("as_of", mode="before")
    @classmethod
    def _with_time(cls, value: Any) -> Any:
        return value if value is None else needs_time(value)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        problems, seen = [], set()
        for i, e in enumerate(self.employees):
            if e.nip in seen:
                problems.append(f"employees[{i}].nip: duplicate NIP {e.nip}")
            seen.add(e.nip)
        for name in ("leave", "duty_orders", "punches"):
            for i, item in enumerate(getattr(self, name)):
                if item.nip not in seen:
                    problems.append(f"{name}[{i}].nip: {item.nip} is not in employees")
        if problems:
            raise ScenarioError(problems)
        return self


def field_path(loc: Sequence[str | int]) -> str:
    """('punches', 3, 'at') -> 'punches[3].at'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "scenario"


def parse_scenario(data: Any) -> Scenario:
    """Plain data (a parsed YAML document) -> Scenario. Raises ScenarioError naming every bad field."""
    if not isinstance(data, dict):
        raise ScenarioError([f"scenario: expected a mapping with month, employees, ..., got {type(data).__name__}"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, ScenarioError):
                problems += cause.problems
                continue
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            shown = f" (got {got!r})" if isinstance(got, str | int | float) and err["type"] != "missing" else ""
            problems.append(f"{field_path(err['loc'])}: {msg}{shown}")
        raise ScenarioError(problems) from None


def check_against_policy(scenario: Scenario, policy: Policy) -> None:
    """Leave types and shifts must exist in the policy. Raises ScenarioError naming the field."""
    problems = []
    for i, e in enumerate(scenario.employees):
        if e.shift is not None and e.shift not in policy.shifts:
            problems.append(f"employees[{i}].shift: {e.shift!r} is not a shift of the policy "
                            f"({', '.join(policy.shifts) or 'none'})")
    for i, lv in enumerate(scenario.leave):
        if lv.type not in policy.leave.percent:
            problems.append(f"leave[{i}].type: {lv.type!r} is not a leave type of the policy "
                            f"({', '.join(policy.leave.percent)})")
    if problems:
        raise ScenarioError(problems)


@dataclass(frozen=True)
class Simulation:
    month: str
    results: list[TppResult]
    warnings: list[str]  # things that did not stop the simulation but change what it counts


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


def run(scenario: Scenario, policy: Policy) -> Simulation:
    """Resolve every working day of the month and compute each employee's TPP.
    Raises ScenarioError when the scenario does not fit the policy."""
    check_against_policy(scenario, policy)
    tz = ZoneInfo(policy.timezone)
    now = _local(scenario.as_of, tz) if scenario.as_of else None
    city = [CityDay(d) for d in scenario.holidays] + [CityDay(d, works=True) for d in scenario.holidays_removed]
    days_of_month = set(month_days(scenario.month))
    results, outside = [], 0
    for emp in scenario.employees:
        schedule = policy.shifts[emp.shift] if emp.shift else None
        employee = Employee(nip=emp.nip, name=emp.name, tpp_base=emp.tpp_base, start=emp.start, end=emp.end,
                            schedule=schedule)
        punches = [Punch(at=_local(p.at, tz), ref=f"punches[{i}]")
                   for i, p in enumerate(scenario.punches) if p.nip == emp.nip]
        excuses = [Excuse("leave", lv.from_, lv.to, lv.type) for lv in scenario.leave if lv.nip == emp.nip]
        excuses += [Excuse("duty", d.from_, d.to, d.ref) for d in scenario.duty_orders if d.nip == emp.nip]
        days = resolve_month(policy, employee, scenario.month, punches, excuses, city, now=now)
        # A punch outside the month that no day of it used (an overnight shift's check-out on the 1st is used).
        used = {p.ref for d in days for p in (d.checkin, d.checkout) if p} | {ref for d in days for ref, _ in d.ignored}
        outside += sum(1 for p in punches if p.ref not in used and p.at.astimezone(tz).date() not in days_of_month)
        results.append(compute_tpp(policy, employee, scenario.month, days, emp.productivity, now,
                                   month_days_off(policy, employee, scenario.month, city)))
    warnings = [f"punches: {outside} punch(es) outside {scenario.month} were ignored"] if outside else []
    return Simulation(scenario.month, results, warnings)


def to_json(sim: Simulation) -> dict[str, Any]:
    """The documented `--json` shape (docs/tpp.md)."""
    return {"month": sim.month, "warnings": sim.warnings, "employees": [{
        "nip": r.nip, "final_amount": r.final_amount, "deduction_percent": round(r.deduction_percent, 6),
        "zeroed": r.zeroed, "provisional": r.provisional, "days": {d.date.isoformat(): d.code for d in r.days},
        "days_off": {o.date.isoformat(): o.explain() for o in r.days_off},
        "deductions": [{"date": d.date.isoformat(), "code": d.code, "percent": d.percent} for d in r.deductions],
    } for r in sim.results]}
