"""Bearer tokens (HMAC-signed, short-lived) issued for a username and password; roles and OPD scope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.errors import ApiError

TOKEN_TTL_S = 3600
bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    username: str
    role: str  # admin, opd, payroll, auditor, employee
    opd_code: str | None = None
    nip: str | None = None

    @property
    def reads_all(self) -> bool:
        return self.role in ("admin", "payroll", "auditor")


def issue_token(secret: bytes, p: Principal, now: float | None = None) -> str:
    payload = json.dumps({"u": p.username, "r": p.role, "o": p.opd_code, "n": p.nip,
                          "exp": int((now or time.time()) + TOKEN_TTL_S)}, separators=(",", ":")).encode()
    sig = hmac.new(secret, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + \
        base64.urlsafe_b64encode(sig).decode().rstrip("=")


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_token(secret: bytes, token: str) -> Principal:
    try:
        payload_b64, sig_b64 = token.split(".")
        payload = _b64(payload_b64)
        if not hmac.compare_digest(hmac.new(secret, payload, hashlib.sha256).digest(), _b64(sig_b64)):
            raise ValueError("bad signature")
        data = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise ApiError(401, "unauthenticated", f"invalid token: {exc}") from None
    if data["exp"] < time.time():
        raise ApiError(401, "unauthenticated", "token expired: ask for a new one at POST /auth/token")
    return Principal(data["u"], data["r"], data["o"], data["n"])


def current(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if creds is None:
        raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>' (POST /auth/token)")
    return read_token(request.app.state.secret, creds.credentials)


def require(*roles: str):
    def dependency(p: Principal = Depends(current)) -> Principal:
        if p.role not in roles:
            raise ApiError(403, "forbidden", f"role {p.role!r} may not do this (needs {' or '.join(roles)})")
        return p

    return dependency


def scope_opd(p: Principal, opd_code: str | None) -> str | None:
    """The OPD a request may see: its own for an OPD user; any (or all) for readers of everything."""
    if p.reads_all:
        return opd_code
    if p.role == "opd":
        if opd_code not in (None, p.opd_code):
            raise ApiError(403, "forbidden", f"an OPD user sees only OPD {p.opd_code}")
        return p.opd_code
    raise ApiError(403, "forbidden", "employees see only their own records (use nip=<your NIP>)")


def scope_employee(p: Principal, nip: str, employee_opd: str | None) -> None:
    if p.reads_all:
        return
    if p.role == "opd" and employee_opd == p.opd_code:
        return
    if p.role == "employee" and p.nip == nip:
        return
    raise ApiError(403, "forbidden", f"{p.username} may not see employee {nip}")
