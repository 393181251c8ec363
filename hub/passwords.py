"""Passwords of API users: argon2id hashes, a policy for new passwords, and old scrypt hashes still accepted.

Hashes made before argon2id (``scrypt$salt$hash``) keep verifying; `needs_rehash` tells the login to
replace them (and argon2 hashes made with older parameters) with a fresh argon2id hash.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's first argon2id profile (46 MiB, one pass, one lane): about 0.1 s on a hub, and the memory per
# attempt makes GPU guessing expensive. Changing these rehashes every user at their next login.
_HASHER = PasswordHasher(time_cost=1, memory_cost=47_104, parallelism=1)
MIN_LENGTH = 10
MAX_LENGTH = 200


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string, salt included) of `password`."""
    return _HASHER.hash(password)


def _check_scrypt(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored` (argon2id, or the scrypt hashes of earlier versions)."""
    if stored.startswith("scrypt$"):
        return _check_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """An old scheme (scrypt) or argon2 parameters weaker than today's."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def dummy_hash() -> str:
    """A hash of nothing anyone knows: checked for unknown usernames so they cost the same time as known ones."""
    return hash_password("hadir-dummy-password-never-valid")


@cache
def common_passwords() -> frozenset[str]:
    """A short list of passwords guessed first (world and Indonesian favourites), shipped with the hub."""
    text = files("hub.data").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why `password` may not be used (in English, for the API and CLI), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"password: at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password: at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!.@#") in common_passwords():
        return "password: too common (it is on the list of passwords guessed first)"
    if len(set(password)) < 4:
        return "password: too few different characters"
    if username and username.lower() in lowered:
        return "password: must not contain the username"
    return None
