"""Request and response bodies of the API (apart from the routes).

Bodies are validated strictly: a number is not a date, `false` is not a coordinate, a string is not a
number. Dates are ISO `YYYY-MM-DD` strings (years 1900-2099), times ISO 8601 with a zone.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from hub.passwords import MIN_LENGTH
from hub.tpp.simulate import needs_time

NIP = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
CODE = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD")
    day = date.fromisoformat(value)  # ValueError for 2026-02-30
    if not 1900 <= day.year <= 2099:
        raise ValueError("year out of range (1900-2099)")
    return day


def _iso_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str) and _DATE.match(value) and len(value) > 10:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise ValueError("a time as ISO 8601 with a zone, e.g. 2026-11-24T07:25:00+09:00")
    if at.tzinfo is None:
        raise ValueError("give a time zone (+09:00 for WIT)")
    if not 1900 <= at.year <= 2099:
        raise ValueError("year out of range (1900-2099)")
    return at


IsoDate = Annotated[date, BeforeValidator(_iso_date), WithJsonSchema(
    {"type": "string", "format": "date", "pattern": r"^(19|20)\d{2}-\d{2}-\d{2}$"})]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime), WithJsonSchema(
    {"type": "string", "format": "date-time",
     "pattern": r"^(19|20)\d{2}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"})]
NEW_PASSWORD = Field(min_length=MIN_LENGTH, max_length=200,
                     description=f"at least {MIN_LENGTH} characters, not a commonly guessed one")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FieldError(BaseModel):
    field: str | None = None
    type: str = Field(description="pydantic's error type, e.g. string_too_long, missing, greater_than_equal")
    message: str
    limits: dict[str, int | float | str] = Field(default_factory=dict, description="e.g. {\"max_length\": 100}")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="a refused request: every field's error")


class ErrorOut(BaseModel):
    """Every error response: {"error": {"code", "message", "field"}}."""

    error: ErrorDetail


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
    start: IsoDate | None = None
    end: IsoDate | None = None
    shift: str | None = Field(default=None, max_length=32, description="a [shifts.<name>] of the policy")


class EmployeePatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    opd_code: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    status: Literal["PNS", "PPPK", "CPNS"] | None = None
    tpp_base: int | None = Field(default=None, ge=0, le=1_000_000_000)
    start: IsoDate | None = None
    end: IsoDate | None = None
    shift: str | None = Field(default=None, max_length=32)


class _Span(_In):
    nip: str = NIP
    start: IsoDate
    end: IsoDate

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
    """A request for a punch added by hand; it counts once another user with the right role approves it."""

    nip: str = NIP
    at: IsoDateTime = Field(description="the punch time, with its zone (e.g. 2026-11-24T07:25:00+09:00)")
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

class DecisionIn(_In):
    note: str = Field("", max_length=300)


class HolidayIn(_In):
    day: IsoDate
    name: str = Field(min_length=1, max_length=200)
    works: bool = Field(False, description="true: a day off of the national or cuti bersama list that the "
                                           "city's staff work (a removal); false: a day off the city adds")


class RamadanIn(_In):
    start: IsoDate = Field(description="1 Ramadan as the government set it")
    end: IsoDate = Field(description="the last day of Ramadan (the day before 1 Syawal)")
    source: str = Field(min_length=5, max_length=300, description="the decision, e.g. sidang isbat of a date")


class ReopenIn(_In):
    reason: str = Field(min_length=5, max_length=300)


class UserIn(_In):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    password: str = NEW_PASSWORD
    role: Literal["admin", "opd", "payroll", "auditor", "employee"]
    opd_code: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    nip: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")


class UserPatch(_In):
    role: Literal["admin", "opd", "payroll", "auditor", "employee"] | None = None
    opd_code: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    nip: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")
    disabled: bool | None = None


class UserOut(BaseModel):
    username: str
    role: str
    opd_code: str | None
    nip: str | None
    disabled: bool
    locked_until: str | None


class PasswordResetIn(_In):
    new_password: str = NEW_PASSWORD


class PasswordChangeIn(_In):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = NEW_PASSWORD


class Page(BaseModel):
    items: list[dict]
    total: int
    page: int
    size: int
