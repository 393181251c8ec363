"""API users, once for the CLI and the API: create, list, disable, passwords, roles, removal, login.

Every change is written to the audit log. A user's tokens carry the user's `token_epoch`; disabling,
changing the password or the role raises it, which ends every token issued before. Logins are checked
here too: a lockout after repeated failures, and a dummy hash for unknown usernames so that a wrong
username costs the same time as a wrong password.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select

from hub.master import Employee, MasterData, Opd, RevokedToken, User
from hub.passwords import check_password, dummy_hash, hash_password, needs_rehash, password_problem

ROLES = ("admin", "opd", "payroll", "auditor", "employee")
LOCK_AFTER = 5  # failed logins in a row
LOCK_FOR = timedelta(minutes=15)
log = logging.getLogger("hub.auth")


class UserError(ValueError):
    """A refused user change: `kind` is invalid (422), not_found (404) or conflict (409)."""

    def __init__(self, kind: str, message: str, field: str | None = None):
        super().__init__(message)
        self.kind, self.field = kind, field


class LoginRefused(Exception):
    """Wrong username or password, a disabled user, or a locked account (`locked_until` set)."""

    def __init__(self, locked_until: datetime | None = None, unknown: bool = False):
        super().__init__("wrong username or password")
        self.locked_until, self.unknown = locked_until, unknown


@dataclass(frozen=True)
class UserView:
    """What the API and CLI show of a user (never the hash)."""

    username: str
    role: str
    opd_code: str | None
    nip: str | None
    disabled: bool
    locked_until: str | None

    @classmethod
    def of(cls, u: User) -> UserView:
        locked = _aware(u.locked_until)
        return cls(u.username, u.role, u.opd_code, u.nip, u.disabled,
                   locked.isoformat() if locked and locked > _now() else None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def _check_scope(master: MasterData, role: str, opd_code: str | None, nip: str | None) -> None:
    if role not in ROLES:
        raise UserError("invalid", f"role: one of {', '.join(ROLES)}", "role")
    if role == "opd" and not opd_code:
        raise UserError("invalid", "opd_code: an opd user needs opd_code", "opd_code")
    if role == "employee" and not nip:
        raise UserError("invalid", "nip: an employee user needs nip", "nip")
    with master.session() as s:
        if opd_code and s.get(Opd, opd_code) is None:
            raise UserError("invalid", f"opd_code: there is no OPD {opd_code}", "opd_code")
        if nip and s.get(Employee, nip) is None:
            raise UserError("invalid", f"nip: there is no employee with NIP {nip}", "nip")


def _get(s, username: str) -> User:
    user = s.get(User, username)
    if user is None:
        raise UserError("not_found", f"no user {username}", "username")
    return user


def _not_self(actor: str, username: str, what: str) -> None:
    """An admin does not disable, demote, remove or reset themselves by accident: another admin does (or,
    for a password, the user proving the old one at POST /auth/password)."""
    if actor == username:
        raise UserError("conflict", f"you cannot {what} your own user: another admin must", "username")


def _keeps_an_admin(s, username: str) -> None:
    """Refuse to disable, demote or remove the last enabled admin: nobody could manage users afterwards."""
    others = s.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.disabled.is_(False), User.username != username))
    if not others:
        raise UserError("conflict", "the last enabled admin cannot be disabled, demoted or removed")


def create_user(master: MasterData, actor: str, username: str, password: str, role: str,
                opd_code: str | None = None, nip: str | None = None) -> UserView:
    """Create a user after checking the password policy, the role's scope (the OPD, the employee's NIP)."""
    if problem := password_problem(password, username):
        raise UserError("invalid", problem, "password")
    _check_scope(master, role, opd_code, nip)
    with master.session() as s:
        if s.get(User, username) is not None:
            raise UserError("conflict", f"user {username} already exists", "username")
        user = User(username=username, password_hash=hash_password(password), role=role,
                    opd_code=opd_code if role == "opd" else None, nip=nip if role == "employee" else None,
                    disabled=False, token_epoch=0, failed_logins=0, password_changed_at=_now())
        s.add(user)
        s.flush()
        master.audit(s, actor, "create", user)
        return UserView.of(user)


def list_users(master: MasterData) -> list[UserView]:
    with master.session() as s:
        return [UserView.of(u) for u in s.scalars(select(User).order_by(User.username))]


def set_disabled(master: MasterData, actor: str, username: str, disabled: bool) -> UserView:
    """Disable (every token ends at once) or enable a user; enabling also lifts a lockout."""
    if disabled:
        _not_self(actor, username, "disable")
    with master.session() as s:
        user = _get(s, username)
        if disabled and user.role == "admin":
            _keeps_an_admin(s, username)
        user.disabled, user.token_epoch = disabled, user.token_epoch + 1
        user.failed_logins, user.locked_until = 0, None
        master.audit(s, actor, "disable" if disabled else "enable", user)
        return UserView.of(user)


def set_role(master: MasterData, actor: str, username: str, role: str, opd_code: str | None = None,
             nip: str | None = None) -> UserView:
    """Change a user's role and scope; tokens issued with the old role end."""
    _not_self(actor, username, "change the role of")
    _check_scope(master, role, opd_code, nip)
    with master.session() as s:
        user = _get(s, username)
        if user.role == "admin" and role != "admin":
            _keeps_an_admin(s, username)
        user.role = role
        user.opd_code, user.nip = (opd_code if role == "opd" else None), (nip if role == "employee" else None)
        user.token_epoch += 1
        master.audit(s, actor, "role", user)
        return UserView.of(user)


def _set_password(master: MasterData, actor: str, action: str, username: str, new: str) -> UserView:
    if problem := password_problem(new, username):
        raise UserError("invalid", problem.replace("password:", "new_password:"), "new_password")
    with master.session() as s:
        user = _get(s, username)
        user.password_hash, user.password_changed_at = hash_password(new), _now()
        user.token_epoch += 1
        user.failed_logins, user.locked_until = 0, None
        master.audit(s, actor, action, user)
        return UserView.of(user)


def reset_password(master: MasterData, actor: str, username: str, new: str) -> UserView:
    """An admin sets a new password (the user forgot it); it also lifts a lockout. Old tokens end."""
    _not_self(actor, username, "reset the password of")
    return _set_password(master, actor, "reset_password", username, new)


def change_password(master: MasterData, username: str, old: str, new: str) -> UserView:
    """A user changes their own password, proving the old one. Old tokens (all sessions) end."""
    user = master.user(username)
    if user is None or not check_password(old, user.password_hash):
        raise UserError("invalid", "old_password: does not match", "old_password")
    return _set_password(master, username, "password", username, new)


def delete_user(master: MasterData, actor: str, username: str) -> None:
    """Remove a user; their tokens end with them."""
    _not_self(actor, username, "remove")
    with master.session() as s:
        user = _get(s, username)
        if user.role == "admin":
            _keeps_an_admin(s, username)
        master.audit(s, actor, "delete", user)
        s.delete(user)


def authenticate(master: MasterData, username: str, password: str, client: str = "-") -> User:
    """The user for a correct username and password, else LoginRefused. Failures are logged; LOCK_AFTER
    failures in a row lock the account for LOCK_FOR (audited). An old hash is replaced on success."""
    now = _now()
    refused: LoginRefused | None = None
    with master.session() as s:  # commits the failure count too: raise only after it
        user = s.get(User, username)
        locked = _aware(user.locked_until) if user else None
        if user is None:
            check_password(password, dummy_hash())  # the same work as for a known user
            log.warning("login failed: unknown user %r from %s", username, client)
            refused = LoginRefused(unknown=True)
        elif locked and locked > now:
            check_password(password, dummy_hash())
            log.warning("login refused: %r is locked until %s (from %s)", username, locked.isoformat(), client)
            refused = LoginRefused(locked)
        elif user.disabled or not check_password(password, user.password_hash):
            user.failed_logins += 1
            log.warning("login failed for %r from %s (%d in a row)", username, client, user.failed_logins)
            if user.failed_logins >= LOCK_AFTER:
                user.locked_until, user.failed_logins = now + LOCK_FOR, 0
                log.warning("user %r locked until %s after %d failed logins", username,
                            user.locked_until.isoformat(), LOCK_AFTER)
                master.audit(s, "hub", "lock", user)
            refused = LoginRefused()  # this attempt was a wrong password; the lock shows from the next one
        else:
            user.failed_logins, user.locked_until = 0, None
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)  # old scrypt or weaker argon2 parameters
                log.info("password hash of %r upgraded to argon2id", username)
    if refused is not None:
        raise refused
    return user


def session_user(master: MasterData, username: str, epoch: int, token_id: str) -> User | None:
    """The user a token speaks for if it is still valid: the user exists, is enabled, the token's epoch is
    the current one and it was not logged out. One read per request."""
    with master.session() as s:
        user = s.get(User, username)
        if user is None or user.disabled or user.token_epoch != epoch:
            return None
        if token_id and s.get(RevokedToken, token_id) is not None:
            return None
        return user


def revoke_token(master: MasterData, username: str, token_id: str, expires_at: datetime) -> None:
    """Logout (audited): the token is refused from now on; revocations past their token's expiry are pruned."""
    with master.session() as s:
        s.execute(delete(RevokedToken).where(RevokedToken.expires_at < _now()))
        if s.get(RevokedToken, token_id) is None:
            row = RevokedToken(token_id=token_id, expires_at=expires_at)
            s.add(row)
            s.flush()
            master.audit(s, username, "logout", row)
