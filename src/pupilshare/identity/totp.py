"""The second factor: time-based one-time codes (RFC 6238) through ``pyotp``.

Codes are 6 digits over 30-second steps; a code from the step before or after the
current one is accepted (clocks drift), but never a step at or before the last one
accepted for that user, so an overheard code cannot be replayed (RFC 6238 5.2).
Times are the records' naive UTC datetimes.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

import pyotp

STEP_SECONDS = 30
WINDOW = 1  # steps either side of now
ISSUER = "pupilshare"


def new_secret() -> str:
    """A fresh base32 secret (160 bits), as authenticator apps take it."""
    return pyotp.random_base32(32)


def step_at(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp()) // STEP_SECONDS


def code_for(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def accept(secret: str, code: str, last_step: int, at: datetime) -> int | None:
    """The step ``code`` belongs to, if it is valid now and newer than
    ``last_step``; ``None`` otherwise."""
    code = "".join(str(code).split())
    if len(code) != 6 or not code.isdigit():
        return None
    now = step_at(at)
    for step in range(now - WINDOW, now + WINDOW + 1):
        if step > last_step and hmac.compare_digest(code_for(secret, step), code):
            return step
    return None


def uri(secret: str, username: str) -> str:
    """The ``otpauth://`` address an authenticator app reads (often as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
