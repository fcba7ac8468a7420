"""Password hashes: argon2id through ``argon2-cffi``.

The hasher is argon2-cffi's default, the RFC 9106 low-memory profile (argon2id, 3
passes over 64 MiB, 4 lanes): about 0.2 s a hash on this project's 2-core machine,
which is what makes a stolen hash slow to guess. Each hash carries its own
parameters, so a hash made under other parameters still verifies and is re-made
under the current ones at the next sign-in. Tests swap ``HASHER`` for argon2's
cheapest profile (``tests/conftest.py``); nothing else should.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
MIN_LENGTH = 10  # NCSC: length over composition rules
MAX_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
_DUMMY: dict[str, str] = {}


def problems(password: str) -> list[str]:
    """Why a new password is refused (empty when it is acceptable)."""
    out = []
    if len(password) < MIN_LENGTH:
        out.append(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        out.append(f"a password has at most {MAX_LENGTH} characters")
    if password != password.strip():
        out.append("a password may not start or end with a space")
    return out


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def check(password_hash: str, password: str) -> bool:
    """Does ``password`` match? Wrong, malformed or oversized input is a plain no."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


def check_nothing(password: str) -> None:
    """Spend the time a real check takes, so an unknown user name answers as slowly
    as a wrong password (names cannot be found by timing)."""
    key = repr(HASHER)
    if key not in _DUMMY:
        _DUMMY[key] = HASHER.hash(secrets.token_urlsafe(12))
    check(_DUMMY[key], password[:MAX_LENGTH])


def generate() -> str:
    """A new random password: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)
