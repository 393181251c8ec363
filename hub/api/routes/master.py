"""Master data: OPDs, employees, leave, duty orders, holidays, users. Every change is audited."""

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.exc import IntegrityError

from hub.api.auth import Principal, current, not_found, require, scope_employee, scope_opd
from hub.api.errors import ApiError
from hub.api.schemas import (
    DutyIn,
    EmployeeIn,
    EmployeePatch,
    HolidayIn,
    IsoDate,
    LeaveIn,
    OpdIn,
    Page,
    SiteIn,
)
from hub.corrections import CorrectionError, ensure_open, span_days
from hub.master import DutyOrder, Employee, Holiday, Leave, Opd, Site, _jsonable

router = APIRouter()


def _master(request: Request):
    return request.app.state.master


def _add(request: Request, actor: str, obj) -> dict:
    try:
        return _jsonable(_master(request).add(actor, obj))
    except IntegrityError as exc:
        raise ApiError(409, "conflict", f"already exists or refers to something missing: {exc.orig}") from None


def _page(items: list[dict], page: int, size: int) -> Page:
    return Page(items=items[(page - 1) * size: page * size], total=len(items), page=page, size=size)


def _employee(request: Request, nip: str) -> Employee:
    emp = _master(request).employee(nip)
    if emp is None:
        raise not_found(nip)
    return emp


@router.get("/opd", summary="List OPDs")
def list_opd(request: Request, _: Principal = Depends(current)) -> list[dict]:
    return [_jsonable(o) for o in _master(request).list(Opd)]


@router.post("/opd", status_code=201, summary="Create an OPD (admin)")
def create_opd(body: OpdIn, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    return _add(request, p.username, Opd(**body.model_dump()))


@router.get("/employees", response_model=Page, summary="List employees (an OPD user sees its own OPD)")
def list_employees(request: Request, opd: str | None = None, page: int = Query(1, ge=1, le=10_000),
                   size: int = Query(50, ge=1, le=500), p: Principal = Depends(current)) -> Page:
    if p.role == "employee":
        return _page([_jsonable(_employee(request, p.nip or ""))], 1, 1)
    items = [_jsonable(e) for e in _master(request).employees(scope_opd(p, opd))]
    return _page(items, page, size)


def _check_shift(request: Request, shift: str | None) -> None:
    shifts = request.app.state.policy.shifts
    if shift is not None and shift not in shifts:
        raise ApiError(422, "invalid", f"shift: {shift!r} is not a shift of the policy ({', '.join(shifts) or 'none'})",
                       "shift")


@router.post("/employees", status_code=201, summary="Create an employee (admin)")
def create_employee(body: EmployeeIn, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    _check_shift(request, body.shift)
    if _master(request).employee(body.nip) is not None:
        raise ApiError(409, "conflict", f"nip: an employee with NIP {body.nip} already exists", "nip")
    return _add(request, p.username, Employee(**body.model_dump()))


@router.get("/employees/{nip}", summary="One employee")
def get_employee(nip: str, request: Request, p: Principal = Depends(current)) -> dict:
    emp = _employee(request, nip)
    scope_employee(p, nip, emp.opd_code)
    return _jsonable(emp)


@router.patch("/employees/{nip}", summary="Change an employee (admin)")
def patch_employee(nip: str, body: EmployeePatch, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    _employee(request, nip)
    _check_shift(request, body.shift)
    try:
        obj = _master(request).update(p.username, Employee, nip, body.model_dump(exclude_unset=True))
    except IntegrityError as exc:
        raise ApiError(409, "conflict", f"refers to something missing: {exc.orig}") from None
    return _jsonable(obj)


@router.delete("/employees/{nip}", status_code=204,
               summary="Remove an employee (admin): their face templates are erased on the hub and on devices")
def delete_employee(nip: str, request: Request, p: Principal = Depends(require("admin"))) -> None:
    try:
        erased = _master(request).delete_employee(p.username, nip)
    except IntegrityError:
        raise ApiError(409, "conflict", "the employee still has leave, duty orders or corrections") from None
    if erased is None:
        raise not_found(nip)
    request.app.state.push_galleries()  # devices drop the face with the new gallery version


def _span_endpoints(path: str, model, schema, label: str) -> None:
    @router.get(f"/{path}", summary=f"List {label}", name=f"list_{path}")
    def list_items(request: Request, nip: str | None = None, opd: str | None = None,
                   p: Principal = Depends(current)) -> list[dict]:
        if p.role == "employee":
            nip = p.nip
            allowed = {p.nip}
        else:
            allowed = {e.nip for e in _master(request).employees(scope_opd(p, opd))}
        return [_jsonable(x) for x in _master(request).list(model, nip=nip) if x.nip in allowed]

    @router.post(f"/{path}", status_code=201, summary=f"Record {label} (admin, or an OPD user for its staff)",
                 name=f"create_{path}")
    def create(body: schema, request: Request, p: Principal = Depends(require("admin", "opd"))) -> dict:
        emp = _employee(request, body.nip)
        if p.role == "opd" and emp.opd_code != p.opd_code:
            raise not_found(body.nip)
        try:
            ensure_open(_master(request), span_days(body.start, body.end))
        except CorrectionError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        if model is Leave and body.type not in request.app.state.policy.leave.percent:
            raise ApiError(422, "invalid", f"type: leave type {body.type!r} is not in the policy "
                                           f"({', '.join(request.app.state.policy.leave.percent)})", "type")
        return _add(request, p.username, model(**body.model_dump()))


_span_endpoints("leave", Leave, LeaveIn, "leave (cuti)")
_span_endpoints("duty-orders", DutyOrder, DutyIn, "duty orders (surat perintah tugas)")


@router.get("/sites", summary="Office sites with their geofence radius")
def list_sites(request: Request, opd: str | None = None, p: Principal = Depends(current)) -> list[dict]:
    # An employee sees the sites where they may check in, not every OPD's.
    scope = _employee(request, p.nip or "").opd_code if p.role == "employee" else scope_opd(p, opd)
    return [_jsonable(x) for x in _master(request).list(Site, opd_code=scope)]


@router.post("/sites", status_code=201, summary="Add an office site and its geofence radius (admin)")
def add_site(body: SiteIn, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    return _add(request, p.username, Site(**body.model_dump()))


@router.get("/holidays", summary="The city's own list: days off it adds, and listed days off it works (works=true)")
def list_holidays(request: Request, _: Principal = Depends(current)) -> list[dict]:
    return [_jsonable(h) for h in _master(request).list(Holiday)]


@router.post("/holidays", status_code=201,
             summary="Add a day off to the city's list, or (works=true) a national/cuti bersama day the city works "
                     "(admin, audited)")
def add_holiday(body: HolidayIn, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    return _add(request, p.username, Holiday(**body.model_dump()))


@router.delete("/holidays/{day}", status_code=204, summary="Take a day off the city's list (admin, audited)")
def delete_holiday(day: IsoDate, request: Request, p: Principal = Depends(require("admin"))) -> None:
    if not _master(request).delete(p.username, Holiday, day):
        raise ApiError(404, "not_found", f"day: {day} is not in the city's list", "day")
