"""API users (admin): list, create, disable or enable, role, password reset, removal; and for everyone:
login, logout, own password. Each change is audited (hub.users); a change ends the user's tokens."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request, Response

from hub.api.auth import TOKEN_TTL_S, Principal, current, expires, issue_token, require
from hub.api.errors import ApiError
from hub.api.schemas import PasswordChangeIn, PasswordResetIn, TokenIn, TokenOut, UserIn, UserOut, UserPatch
from hub.users import (
    LoginRefused,
    UserError,
    UserView,
    authenticate,
    change_password,
    create_user,
    delete_user,
    list_users,
    reset_password,
    revoke_token,
    set_disabled,
    set_role,
)

router = APIRouter()
log = logging.getLogger("hub.auth")
_STATUS = {"invalid": 422, "not_found": 404, "conflict": 409}


def _refused(exc: UserError) -> ApiError:
    return ApiError(_STATUS[exc.kind], exc.kind, str(exc), exc.field)


def _out(v: UserView) -> UserOut:
    return UserOut(**v.__dict__)


def _too_many(seconds: float) -> ApiError:
    minutes = max(1, math.ceil(seconds / 60))
    return ApiError(429, "too_many_attempts", f"too many failed logins: try again in {minutes} minutes",
                    headers={"Retry-After": str(math.ceil(seconds))})


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a username and password for a bearer token",
             responses={401: {"description": "wrong username or password"},
                        429: {"description": "too many failed logins (per address and per username)"}})
def token(body: TokenIn, request: Request) -> TokenOut:
    client = request.client.host if request.client else "-"
    throttle = request.app.state.login_throttle
    if wait := throttle.retry_after(client, body.username):
        log.warning("login throttled for %r from %s (%.0f s left)", body.username, client, wait)
        raise _too_many(wait)
    try:
        user = authenticate(request.app.state.master, body.username, body.password, client)
    except LoginRefused as exc:
        throttle.failed(client, body.username, unknown_user=exc.unknown)
        if exc.locked_until is not None:
            raise _too_many((exc.locked_until - datetime.now(timezone.utc)).total_seconds()) from None
        raise ApiError(401, "unauthenticated", "wrong username or password") from None
    throttle.succeeded(body.username)
    p = Principal(user.username, user.role, user.opd_code, user.nip)
    return TokenOut(access_token=issue_token(request.app.state.secret, p, epoch=user.token_epoch),
                    expires_in=TOKEN_TTL_S)


@router.post("/auth/logout", status_code=204, summary="End this token (log out)")
def logout(request: Request, p: Principal = Depends(current)) -> Response:
    revoke_token(request.app.state.master, p.username, p.token_id, expires(p))
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, summary="Change your own password; every token of yours ends")
def own_password(body: PasswordChangeIn, request: Request, p: Principal = Depends(current)) -> Response:
    try:
        change_password(request.app.state.master, p.username, body.old_password, body.new_password)
    except UserError as exc:
        raise _refused(exc) from None
    return Response(status_code=204)


@router.get("/users", response_model=list[UserOut], summary="List API users (admin)")
def users(request: Request, _: Principal = Depends(require("admin"))) -> list[UserOut]:
    return [_out(v) for v in list_users(request.app.state.master)]


@router.post("/users", status_code=201, response_model=UserOut, summary="Create an API user (admin)")
def add_user(body: UserIn, request: Request, p: Principal = Depends(require("admin"))) -> UserOut:
    try:
        return _out(create_user(request.app.state.master, p.username, body.username, body.password, body.role,
                                body.opd_code, body.nip))
    except UserError as exc:
        raise _refused(exc) from None


@router.patch("/users/{username}", response_model=UserOut,
              summary="Change a user's role and scope, or disable/enable them (admin); their tokens end")
def patch_user(username: str, body: UserPatch, request: Request, p: Principal = Depends(require("admin"))) -> UserOut:
    master = request.app.state.master
    try:
        view = None
        if body.role is not None:
            view = set_role(master, p.username, username, body.role, body.opd_code, body.nip)
        elif body.opd_code is not None or body.nip is not None:
            raise UserError("invalid", "role: give the role together with opd_code or nip", "role")
        if body.disabled is not None:
            view = set_disabled(master, p.username, username, body.disabled)
        if view is None:
            raise UserError("invalid", "request: nothing to change (role, opd_code, nip, disabled)")
    except UserError as exc:
        raise _refused(exc) from None
    return _out(view)


@router.post("/users/{username}/password", response_model=UserOut,
             summary="Set a new password for a user (admin); lifts a lockout, ends their tokens")
def reset(username: str, body: PasswordResetIn, request: Request, p: Principal = Depends(require("admin"))
          ) -> UserOut:
    try:
        return _out(reset_password(request.app.state.master, p.username, username, body.new_password))
    except UserError as exc:
        raise _refused(exc) from None


@router.delete("/users/{username}", status_code=204, summary="Remove a user (admin); their tokens end")
def remove(username: str, request: Request, p: Principal = Depends(require("admin"))) -> Response:
    try:
        delete_user(request.app.state.master, p.username, username)
    except UserError as exc:
        raise _refused(exc) from None
    return Response(status_code=204)
