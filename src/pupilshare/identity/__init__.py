"""Who is asking, proved: one identity for the command line and the web service.

Named users sign in with an argon2-hashed password, plus a TOTP code when a role
needs a second factor (``governance.access.SECOND_FACTOR``), or present an API token
they made; either gives a signed-in ``Principal`` that ``governance.access`` checks
against its one permission table. Accounts lock after repeated failures, sign-in is
rate-limited, and every attempt, lock-out and credential change is a ``sign_ins``
record. The contract is in DEVELOPERS.md ("Identity").
"""

from __future__ import annotations

from pupilshare.errors import SignInFailed
from pupilshare.governance.access import LOCAL_OPERATOR, Principal
from pupilshare.identity.manage import (
    Issued,
    enrol_totp,
    issue,
    lock,
    needs_enrolment,
    unlock,
)
from pupilshare.identity.records import LIMITS, Limits, history
from pupilshare.identity.signin import SecondFactorRequired, authenticate, resume
from pupilshare.identity.terminal import ask, resolve
from pupilshare.identity.tokens import (
    create_token,
    list_tokens,
    revoke_token,
    verify_token,
)

__all__ = [
    "LIMITS",
    "LOCAL_OPERATOR",
    "Issued",
    "Limits",
    "Principal",
    "SecondFactorRequired",
    "SignInFailed",
    "ask",
    "authenticate",
    "create_token",
    "enrol_totp",
    "history",
    "issue",
    "list_tokens",
    "lock",
    "needs_enrolment",
    "resume",
    "resolve",
    "revoke_token",
    "unlock",
    "verify_token",
]
