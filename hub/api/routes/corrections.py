"""Corrections under the four-eyes rule (request, then approval by another user) and closed months."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from hub.api.auth import Principal, current, not_found, require, scope_opd
from hub.api.errors import ApiError
from hub.api.schemas import CorrectionIn, DecisionIn, ReopenIn
from hub.corrections import (
    CorrectionError,
    close_month,
    closed_months,
    decide_correction,
    get_correction,
    reopen_month,
    request_correction,
)
from hub.master import Correction, _jsonable
from hub.tpp.resolve import MONTH_PATTERN

router = APIRouter()
MONTH = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]
_STATUS = {"invalid": 422, "not_found": 404, "forbidden": 403, "conflict": 409}


def _refused(exc: CorrectionError) -> ApiError:
    return ApiError(_STATUS[exc.kind], exc.kind, str(exc), exc.field)


def _tz(request: Request):
    return request.app.state.attendance.tz


def _visible_employee(request: Request, p: Principal, nip: str) -> None:
    """404 for a NIP that does not exist or lies outside an OPD user's OPD (the two look the same)."""
    emp = request.app.state.master.employee(nip)
    if emp is None or (p.role == "opd" and emp.opd_code != p.opd_code):
        raise not_found(nip)


@router.get("/corrections", summary="Corrections (punches added by hand): requester, approver, status, reason")
def list_corrections(request: Request, opd: str | None = None, status: str | None = None,
                     p: Principal = Depends(current)) -> list[dict]:
    master = request.app.state.master
    allowed = {p.nip} if p.role == "employee" else {e.nip for e in master.employees(scope_opd(p, opd))}
    return [_jsonable(c) for c in master.list(Correction, status=status) if c.nip in allowed]


@router.post("/corrections", status_code=201,
             summary="Request a punch by hand (admin, or an OPD user for its staff); it counts once approved")
def add_correction(body: CorrectionIn, request: Request, p: Principal = Depends(require("admin", "opd"))) -> dict:
    _visible_employee(request, p, body.nip)
    try:
        row = request_correction(request.app.state.master, p.username, body.nip, body.at, body.reason, _tz(request),
                                 now=request.app.state.clock())
    except CorrectionError as exc:
        raise _refused(exc) from None
    return _jsonable(row)


def _decide(request: Request, p: Principal, correction_id: int, approve: bool, note: str) -> dict:
    master = request.app.state.master
    row = get_correction(master, correction_id)
    if row is None:
        raise ApiError(404, "not_found", f"no correction {correction_id}", "id")
    emp = master.employee(row.nip)
    if p.role == "opd" and (emp is None or emp.opd_code != p.opd_code):
        raise ApiError(404, "not_found", f"no correction {correction_id}", "id")
    try:
        return _jsonable(decide_correction(master, p.username, correction_id, approve, note, _tz(request)))
    except CorrectionError as exc:
        raise _refused(exc) from None


CORRECTION_ID = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/corrections/{correction_id}/approve",
             summary="Approve a pending correction (admin, or an OPD user of the employee's OPD; not the requester)")
def approve(correction_id: CORRECTION_ID, request: Request, body: DecisionIn | None = None,
            p: Principal = Depends(require("admin", "opd"))) -> dict:
    return _decide(request, p, correction_id, True, body.note if body else "")


@router.post("/corrections/{correction_id}/reject", summary="Reject a pending correction (as for approval)")
def reject(correction_id: CORRECTION_ID, request: Request, body: DecisionIn | None = None,
           p: Principal = Depends(require("admin", "opd"))) -> dict:
    return _decide(request, p, correction_id, False, body.note if body else "")


@router.get("/months/closed", summary="Months closed by the payroll office")
def closed(request: Request, _: Principal = Depends(require("admin", "payroll", "auditor", "opd"))) -> list[dict]:
    return [_jsonable(m) for m in closed_months(request.app.state.master)]


@router.post("/months/{month}/close", status_code=201,
             summary="Close an ended month (payroll office): no correction, leave or duty order may change it")
def close(month: MONTH, request: Request, p: Principal = Depends(require("payroll", "admin"))) -> dict:
    today = request.app.state.clock().astimezone(_tz(request)).date()
    try:
        return _jsonable(close_month(request.app.state.master, p.username, month, today))
    except CorrectionError as exc:
        raise _refused(exc) from None


@router.post("/months/{month}/reopen", summary="Reopen a closed month, with the reason (payroll office; audited)")
def reopen(month: MONTH, body: ReopenIn, request: Request, p: Principal = Depends(require("payroll", "admin"))
           ) -> dict:
    try:
        reopen_month(request.app.state.master, p.username, month, body.reason)
    except CorrectionError as exc:
        raise _refused(exc) from None
    return {"month": month, "reopened": True}
