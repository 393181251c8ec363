"""Request and response bodies of the API (apart from the routes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.tpp.simulate import needs_time

NIP = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
CODE = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class OpdIn(_In):
    code: str = CODE
    name: str = Field(min_length=1, max_length=200)


class EmployeeIn(_In):
    nip: str = NIP
    name: str = Field(min_length=1, max_length=200)
    opd_code: str = CODE
    status: Literal["PNS", "PPPK", "CPNS"] = "PNS"
    tpp_base: int = Field(ge=0, le=1_000_000_000)
    start: date | None = None
    end: date | None = None
    shift: str | None = Field(default=None, max_length=32, description="a [shifts.<name>] of the policy")


class EmployeePatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    opd_code: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    status: Literal["PNS", "PPPK", "CPNS"] | None = None
    tpp_base: int | None = Field(default=None, ge=0, le=1_000_000_000)
    start: date | None = None
    end: date | None = None
    shift: str | None = Field(default=None, max_length=32)


class _Span(_In):
    nip: str = NIP
    start: date
    end: date

    @field_validator("end")
    @classmethod
    def _order(cls, end: date, info: object) -> date:
        # A field validator, so the error names `end` (as `hadir tpp simulate` names `to`).
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError(f"{end} is before start {start}")
        if start is not None and (end - start).days > 366:
            raise ValueError("a span longer than a year")
        return end


class LeaveIn(_Span):
    type: str = Field(min_length=1, max_length=32)
    approver: str = Field("", max_length=100)
    document: str = Field("", max_length=200)


class DutyIn(_Span):
    number: str = Field(min_length=1, max_length=100)
    destination: str = Field("", max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_m: float = Field(200.0, gt=0, le=100_000)


class SiteIn(_In):
    opd_code: str = CODE
    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(100.0, gt=0, le=100_000)


class CorrectionIn(_In):
    nip: str = NIP
    at: datetime = Field(description="the punch time, with its zone (e.g. 2026-11-24T07:25:00+09:00)")
    approved_by: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=5, max_length=300)

    @field_validator("at", mode="before")
    @classmethod
    def _with_time(cls, value: object) -> object:
        return needs_time(value)  # the same check as `hadir tpp simulate`'s punches

    @model_validator(mode="after")
    def _zone(self) -> CorrectionIn:
        if self.at.tzinfo is None:
            raise ValueError("at: give a time zone (+09:00 for WIT)")
        if not 1900 <= self.at.year <= 2099:
            raise ValueError("at: year out of range")
        return self


class HolidayIn(_In):
    day: date
    name: str = Field(min_length=1, max_length=200)
    works: bool = Field(False, description="true: a day off of the national or cuti bersama list that the "
                                           "city's staff work (a removal); false: a day off the city adds")


class RamadanIn(_In):
    start: date = Field(description="1 Ramadan as the government set it")
    end: date = Field(description="the last day of Ramadan (the day before 1 Syawal)")
    source: str = Field(min_length=5, max_length=300, description="the decision, e.g. sidang isbat of a date")


class UserIn(_In):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: Literal["admin", "opd", "payroll", "auditor", "employee"]
    opd_code: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    nip: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")

    @model_validator(mode="after")
    def _scope(self) -> UserIn:
        if self.role == "opd" and not self.opd_code:
            raise ValueError("an opd user needs opd_code")
        if self.role == "employee" and not self.nip:
            raise ValueError("an employee user needs nip")
        return self


class Page(BaseModel):
    items: list[dict]
    total: int
    page: int
    size: int
