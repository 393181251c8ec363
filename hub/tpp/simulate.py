"""`hadir tpp simulate`: a what-if month for payroll officers, from a small YAML file."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.tpp.compute import TppResult, compute_tpp
from hub.tpp.policy import load_policy
from hub.tpp.resolve import MONTH_PATTERN, Employee, Excuse, Punch, resolve_month


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SimEmployee(_M):
    nip: str = Field(min_length=1)
    name: str = ""
    tpp_base: int = Field(ge=0)
    productivity: float = Field(1.0, ge=0, le=1)
    start: date | None = None
    end: date | None = None


class SimLeave(_M):
    nip: str
    from_: date = Field(alias="from")
    to: date
    type: str = "tahunan"


class SimDuty(_M):
    nip: str
    from_: date = Field(alias="from")
    to: date
    ref: str = ""


class SimPunch(_M):
    nip: str
    at: datetime  # local WIT time, YYYY-MM-DDTHH:MM

    @field_validator("at", mode="before")
    @classmethod
    def _parse(cls, v: Any) -> Any:
        return datetime.fromisoformat(v) if isinstance(v, str) else v


class Scenario(_M):
    month: str = Field(pattern=MONTH_PATTERN)
    policy: str = "default"
    employees: list[SimEmployee]
    holidays: list[date] = Field(default_factory=list)
    leave: list[SimLeave] = Field(default_factory=list)
    duty_orders: list[SimDuty] = Field(default_factory=list)
    punches: list[SimPunch] = Field(default_factory=list)


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    scenario = Scenario.model_validate(data)
    if scenario.policy != "default" and not Path(scenario.policy).is_absolute():
        scenario.policy = str((Path(path).parent / scenario.policy).resolve())
    return scenario


def run(scenario: Scenario) -> list[TppResult]:
    policy = load_policy(scenario.policy)
    tz = ZoneInfo(policy.timezone)
    results = []
    for emp in scenario.employees:
        employee = Employee(nip=emp.nip, name=emp.name, tpp_base=emp.tpp_base, start=emp.start, end=emp.end)
        punches = [Punch(at=p.at.replace(tzinfo=tz) if p.at.tzinfo is None else p.at, ref=f"punch:{i}")
                   for i, p in enumerate(scenario.punches) if p.nip == emp.nip]
        excuses = [Excuse("leave", lv.from_, lv.to, lv.type) for lv in scenario.leave if lv.nip == emp.nip]
        excuses += [Excuse("duty", d.from_, d.to, d.ref) for d in scenario.duty_orders if d.nip == emp.nip]
        days = resolve_month(policy, employee, scenario.month, punches, excuses, scenario.holidays)
        results.append(compute_tpp(policy, employee, scenario.month, days, emp.productivity))
    return results


def to_json(month: str, results: list[TppResult]) -> dict[str, Any]:
    return {"month": month, "employees": [{
        "nip": r.nip, "final_amount": r.final_amount, "deduction_percent": round(r.deduction_percent, 6),
        "zeroed": r.zeroed, "days": {d.date.isoformat(): d.code for d in r.days},
        "deductions": [{"date": d.date.isoformat(), "code": d.code, "percent": d.percent} for d in r.deductions],
    } for r in results]}
