"""Bearer tokens (HMAC-signed, short-lived) issued for a username and password; roles and OPD scope.

A token names its user, the user's token epoch and its own id. Each request checks it against the
current user (exists, enabled, same epoch, not logged out), so disabling a user, changing a password
or a role, or logging out ends a token at once rather than at its expiry. That check is kept in memory for
at most `CHECK_TTL_S` (`TokenChecks`): a change of users or logouts committed by this process forgets every
kept check at once; one made by another process (the CLI) is seen within `CHECK_TTL_S`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event as orm_event

from hub.api.errors import ApiError
from hub.master import MasterData, RevokedToken, User
from hub.users import session_user

TOKEN_TTL_S = 3600
CHECK_TTL_S = 1.0  # how long a token's check against the user's record is trusted without asking again
bearer = HTTPBearer(auto_error=False)
INVALID = "invalid or expired token: log in again at POST /auth/token"


@dataclass(frozen=True)
class Principal:
    username: str
    role: str  # admin, opd, payroll, auditor, employee
    opd_code: str | None = None
    nip: str | None = None
    token_id: str = ""
    expires_at: int = 0  # unix seconds
    epoch: int = 0

    @property
    def reads_all(self) -> bool:
        return self.role in ("admin", "payroll", "auditor")


def issue_token(secret: bytes, p: Principal, now: float | None = None, epoch: int = 0) -> str:
    """A signed token for `p`, valid TOKEN_TTL_S seconds while the user's token epoch stays `epoch`."""
    payload = json.dumps({"u": p.username, "r": p.role, "o": p.opd_code, "n": p.nip, "v": epoch,
                          "j": secrets.token_hex(8), "exp": int((now or time.time()) + TOKEN_TTL_S)},
                         separators=(",", ":")).encode()
    sig = hmac.new(secret, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + \
        base64.urlsafe_b64encode(sig).decode().rstrip("=")


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_token(secret: bytes, token: str) -> Principal:
    """The claims of a well-signed, unexpired token (not yet checked against the user); else 401.
    The message never says what was wrong with the token beyond that."""
    try:
        payload_b64, sig_b64 = token.split(".")
        payload = _b64(payload_b64)
        if not hmac.compare_digest(hmac.new(secret, payload, hashlib.sha256).digest(), _b64(sig_b64)):
            raise ValueError("bad signature")
        data = json.loads(payload)
        p = Principal(data["u"], data["r"], data["o"], data["n"], data.get("j", ""), int(data["exp"]),
                      int(data.get("v", 0)))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ApiError(401, "unauthenticated", INVALID) from None
    if p.expires_at < time.time():
        raise ApiError(401, "unauthenticated", INVALID)
    return p


def still_valid(master: MasterData, p: Principal) -> Principal | None:
    """`p` refreshed from the user's current record, or None when its token no longer holds."""
    if p.expires_at < time.time():
        return None
    user = session_user(master, p.username, p.epoch, p.token_id)
    if user is None:
        return None
    return replace(p, role=user.role, opd_code=user.opd_code, nip=user.nip)


class TokenChecks:
    """Tokens checked against their user's record, kept for `ttl_s`: the dashboards' requests cost a dictionary
    look-up instead of a database session (0.7-0.8 ms of CPU each on a city's master data).

    What ends a token still ends it: any commit in this process that adds, changes or removes a user or a
    logged-out token (logout, disable, password, role, removal, failed logins) forgets every kept check before
    the commit returns to its caller; a change made by another process is seen within `ttl_s`. An expired
    token is refused on every request; a refused token is never kept.
    """

    def __init__(self, master: MasterData, secret: bytes, ttl_s: float = CHECK_TTL_S, max_kept: int = 10_000):
        self.master, self.secret, self.ttl_s, self.max_kept = master, secret, ttl_s, max_kept
        self.generation = 0  # bumped by every commit that touches users or logouts
        self._kept: dict[str, tuple[float, int, Principal]] = {}
        self._lock = threading.Lock()
        self._mark = f"hadir_users_changed_{id(self)}"  # one per instance: each must see its commits
        orm_event.listen(master._sessions, "after_flush", self._flushed)
        orm_event.listen(master._sessions, "after_commit", self._committed)

    def check(self, token: str) -> Principal:
        """The principal of a valid token, refreshed from its user's record; else 401."""
        now = time.monotonic()
        kept = self._kept.get(token)
        if kept is not None and kept[1] == self.generation and now - kept[0] < self.ttl_s:
            if kept[2].expires_at < time.time():
                raise ApiError(401, "unauthenticated", INVALID)
            return kept[2]
        generation = self.generation  # read before the database: a change committed meanwhile voids this check
        p = still_valid(self.master, read_token(self.secret, token))
        if p is None:
            raise ApiError(401, "unauthenticated", INVALID)
        with self._lock:
            if len(self._kept) >= self.max_kept:
                self._kept = {t: k for t, k in self._kept.items() if now - k[0] < self.ttl_s}
                if len(self._kept) >= self.max_kept:
                    self._kept.clear()
            self._kept[token] = (now, generation, p)
        return p

    def forget(self) -> None:
        """Every kept check is asked again at its token's next request."""
        with self._lock:
            self.generation += 1
            self._kept = {}

    def _flushed(self, session: Any, _context: Any) -> None:
        if any(isinstance(o, User | RevokedToken) for o in (*session.new, *session.dirty, *session.deleted)):
            session.info[self._mark] = True

    def _committed(self, session: Any) -> None:
        if session.info.pop(self._mark, False):
            self.forget()


def current(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if creds is None:
        raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>' (POST /auth/token)")
    return request.app.state.tokens.check(creds.credentials)


def require(*roles: str):
    def dependency(p: Principal = Depends(current)) -> Principal:
        if p.role not in roles:
            raise ApiError(403, "forbidden", f"role {p.role!r} may not do this (needs {' or '.join(roles)})")
        return p

    return dependency


def expires(p: Principal) -> datetime:
    return datetime.fromtimestamp(p.expires_at, timezone.utc)


def not_found(nip: str) -> ApiError:
    """The same answer for a NIP that does not exist and one outside the caller's scope."""
    return ApiError(404, "not_found", f"no employee with NIP {nip}", "nip")


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
    """Pass when `p` may see employee `nip`; otherwise 404, exactly as for a NIP that does not exist, so a
    caller cannot learn which NIPs exist outside their scope."""
    if p.reads_all:
        return
    if p.role == "opd" and employee_opd == p.opd_code:
        return
    if p.role == "employee" and p.nip == nip:
        return
    raise not_found(nip)
