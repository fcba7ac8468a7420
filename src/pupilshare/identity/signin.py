"""Sign-in with a password, and a TOTP code for the roles that need a second factor.

``authenticate`` is the only way to a signed-in ``Principal`` other than an API
token (``tokens.verify_token``). A refusal says as little as it can: a wrong name, a
wrong password and a wrong code read the same, and an unknown name costs as much
time as a known one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pupilshare.errors import SignInFailed
from pupilshare.governance.access import SECOND_FACTOR, Principal
from pupilshare.governance.models import Credential, User
from pupilshare.governance.workflow import now
from pupilshare.identity import passwords, totp
from pupilshare.identity.records import LIMITS, Limits, own_session, record, too_many

WRONG = "sign-in refused: wrong user name, password or authentication code"


class SecondFactorRequired(SignInFailed):
    """The password was right, but this user's roles need an authentication code:
    ask for it and call ``authenticate`` again with ``totp``."""


def locked_message(cred: Credential, at: datetime) -> str:
    if cred.locked:
        return "sign-in refused: the account is locked; ask user management"
    return (
        "sign-in refused: the account is locked after repeated failures until "
        f"{cred.locked_until:%H:%M} UTC"
    )


def is_locked(cred: Credential | None, at: datetime) -> bool:
    return cred is not None and bool(
        cred.locked or (cred.locked_until is not None and cred.locked_until > at)
    )


def needs_second_factor(roles: object) -> bool:
    return not SECOND_FACTOR.isdisjoint(roles or ())  # type: ignore[arg-type]


def _fail(rec: Session, cred: Credential, at: datetime, limits: Limits) -> str:
    """Count a wrong password or code; lock the account at the limit."""
    cred.failures += 1
    if cred.failures >= limits.max_failures:
        cred.failures, cred.locked_until = 0, at + limits.lock_for
        return "locked_out"
    return ""


def authenticate(
    session: Session,
    username: str,
    password: str,
    totp_code: str | None = None,
    *,
    source: str = "cli",
    at: datetime | None = None,
    limits: Limits = LIMITS,
) -> Principal:
    """Prove ``username`` with their password (and code): a signed-in principal, or
    ``SignInFailed`` (``SecondFactorRequired`` when only the code is missing).

    Every attempt is recorded, and the record survives a rollback of ``session``.
    ``at`` is the clock (tests); ``source`` is ``cli`` or ``web:ADDRESS``.
    """
    at = at or now()
    with own_session(session) as rec:

        def refuse(
            outcome: str,
            message: str = WRONG,
            method: str = "password",
            cls: type[SignInFailed] = SignInFailed,
        ) -> SignInFailed:
            record(rec, at, username, method, source, outcome)
            rec.commit()
            return cls(message)

        if why := too_many(rec, username, source, at, limits):
            raise refuse("rate_limited", f"sign-in refused: {why}; wait a minute")
        user = rec.get(User, username)
        cred = rec.get(Credential, username) if user is not None else None
        if user is None or cred is None or not cred.password_hash:
            passwords.check_nothing(password)
            raise refuse("unknown_user" if user is None else "no_password")
        if not user.active:
            passwords.check_nothing(password)
            raise refuse("inactive")
        if is_locked(cred, at):
            raise refuse("locked", locked_message(cred, at))
        if not passwords.check(cred.password_hash, password):
            raise refuse(_fail(rec, cred, at, limits) or "bad_password")
        method = "password"
        if needs_second_factor(user.roles):
            method = "password+totp"
            if not cred.totp_secret:
                raise refuse(
                    "no_second_factor",
                    f"sign-in refused: {username}'s roles "
                    "need a second factor and none is enrolled; ask user "
                    "management",
                    method,
                )
            if not totp_code:
                raise refuse(
                    "code_needed",
                    f"{username} needs an authentication code",
                    method,
                    SecondFactorRequired,
                )
            step = totp.accept(cred.totp_secret, totp_code, cred.totp_last_step, at)
            if step is None:
                raise refuse(_fail(rec, cred, at, limits) or "bad_code", WRONG, method)
            cred.totp_last_step = step
        if passwords.needs_rehash(cred.password_hash):
            cred.password_hash = passwords.hash_password(password)
        cred.failures = 0
        record(rec, at, username, method, source, "ok")
        rec.commit()
        return Principal(
            user.username,
            user.org_id,
            frozenset(user.roles or ()),
            named=True,
            via=method,
        )


def resume(
    session: Session, username: str, via: str, *, at: datetime | None = None
) -> Principal:
    """The principal of a sign-in made earlier (a web session), with the user's
    roles as they are now: ``SignInFailed`` once the user is gone, inactive or
    locked. Only for a ``(username, via)`` the server itself kept from
    ``authenticate`` (a signed session cookie), never for one a client sent."""
    at = at or now()
    user, cred = session.get(User, username), session.get(Credential, username)
    if via not in ("password", "password+totp", "token") or user is None:
        raise SignInFailed("signed out: sign in again")
    if not user.active or is_locked(cred, at):
        raise SignInFailed("signed out: the account is locked or inactive")
    if via == "password" and needs_second_factor(user.roles):
        raise SignInFailed("signed out: your roles now need an authentication code")
    return Principal(
        user.username, user.org_id, frozenset(user.roles or ()), named=True, via=via
    )
