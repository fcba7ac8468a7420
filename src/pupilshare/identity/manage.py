"""Managing credentials: issuing and changing passwords, enrolling the second
factor, locking and unlocking accounts.

Who may touch a user's credentials follows who may grant that user's roles
(``governance.orgs.may_manage``): resetting the Chief Statistician's password is as
privileged as making a Chief Statistician. A user changes their own password or
code only when signed in with their password (not with a token). Every change is a
``sign_ins`` row in the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from pupilshare.errors import Denied, InvalidInput, NotFound
from pupilshare.governance.access import Principal
from pupilshare.governance.models import Credential, User
from pupilshare.governance.orgs import may_manage
from pupilshare.governance.workflow import now
from pupilshare.identity import passwords, totp
from pupilshare.identity.records import record
from pupilshare.identity.signin import needs_second_factor


@dataclass(frozen=True)
class Issued:
    """What to hand a user once, out of band: a password, and a TOTP secret (with
    its ``otpauth://`` address) when their roles need a second factor."""

    username: str
    password: str | None
    totp_secret: str | None

    @property
    def totp_uri(self) -> str | None:
        return totp.uri(self.totp_secret, self.username) if self.totp_secret else None


def _user(session: Session, username: str) -> User:
    user = session.get(User, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _credential(session: Session, username: str, at: datetime) -> Credential:
    cred = session.get(Credential, username)
    if cred is None:
        cred = Credential(
            username=username, totp_last_step=0, failures=0, locked=0, changed_at=at
        )
        session.add(cred)
    return cred


def _may_change(session: Session, principal: Principal, user: User) -> None:
    if principal.named and principal.username == user.username:
        if not principal.via.startswith("password"):
            raise Denied("sign in with your password to change your credentials")
        return
    may_manage(session, principal, list(user.roles or ()))


def _password(new: str | None) -> str:
    if new is None:
        return passwords.generate()
    if errors := passwords.problems(new):
        raise InvalidInput("password refused", errors)
    return new


def issue(
    session: Session,
    principal: Principal,
    username: str,
    password: str | None = None,
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> Issued:
    """Set a user's password (generated when ``password`` is None) and, when their
    roles need one and they have none, enrol a TOTP secret: for a new user, or a
    reset. Returns what to hand them."""
    at = at or now()
    user = _user(session, username)
    _may_change(session, principal, user)
    password = _password(password)
    cred = _credential(session, username, at)
    cred.password_hash, cred.changed_at = passwords.hash_password(password), at
    secret = None
    if needs_second_factor(user.roles) and not cred.totp_secret:
        secret = cred.totp_secret = totp.new_secret()
        cred.totp_last_step = 0
    record(
        session,
        at,
        username,
        "manage",
        source,
        "password_set",
        f"by {principal.username}" + (", second factor enrolled" if secret else ""),
        changed_by=principal.username,
    )
    session.flush()
    return Issued(username, password, secret)


def enrol_totp(
    session: Session,
    principal: Principal,
    username: str,
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> Issued:
    """A new TOTP secret for a user (replacing any old one): after a lost phone, or
    when a role that needs it is granted."""
    at = at or now()
    user = _user(session, username)
    _may_change(session, principal, user)
    cred = _credential(session, username, at)
    cred.totp_secret, cred.totp_last_step, cred.changed_at = totp.new_secret(), 0, at
    record(
        session,
        at,
        username,
        "manage",
        source,
        "totp_enrolled",
        f"by {principal.username}",
        changed_by=principal.username,
    )
    session.flush()
    return Issued(username, None, cred.totp_secret)


def needs_enrolment(session: Session, username: str) -> bool:
    """Do this user's roles need a second factor they have not enrolled?"""
    user, cred = session.get(User, username), session.get(Credential, username)
    return (
        user is not None
        and needs_second_factor(user.roles)
        and (cred is None or not cred.totp_secret)
    )


def lock(
    session: Session,
    principal: Principal,
    username: str,
    reason: str,
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> None:
    """Lock an account (its passwords and tokens stop working) until unlocked:
    user management may lock anyone, and anyone may lock themselves."""
    if not (principal.named and principal.username == username):
        principal.require("manage_users", "lock accounts")
    at = at or now()
    _user(session, username)
    cred = _credential(session, username, at)
    cred.locked, cred.changed_at = 1, at
    record(
        session,
        at,
        username,
        "manage",
        source,
        "lock",
        f"by {principal.username}: {reason}",
        changed_by=principal.username,
    )
    session.flush()


def unlock(
    session: Session,
    principal: Principal,
    username: str,
    reason: str,
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> None:
    """Lift a lock (either kind): as privileged as resetting their password, since
    a lock may have been put on a stolen account."""
    at = at or now()
    user = _user(session, username)
    if principal.named and principal.username == username:
        raise Denied("nobody unlocks their own account")
    may_manage(session, principal, list(user.roles or ()))
    cred = _credential(session, username, at)
    cred.locked, cred.locked_until, cred.failures, cred.changed_at = 0, None, 0, at
    record(
        session,
        at,
        username,
        "manage",
        source,
        "unlock",
        f"by {principal.username}: {reason}",
        changed_by=principal.username,
    )
    session.flush()
