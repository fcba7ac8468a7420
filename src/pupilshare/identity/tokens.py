"""API tokens: a random secret a user makes for themselves, for scripts and the JSON
API, in place of their password (and code).

A token reads ``pst_<id>_<secret>``: the id finds the row, and only the secret's
SHA-256 is kept (the secret is 256 random bits, so a fast hash is enough; a slow one
would only slow every API call). A token is shown once, when made; it expires (30
days by default, a year at most, 30 days at most for a user whose roles need a
second factor, since a token stands in for that factor too), can be revoked, and
stops working when its user is locked or made inactive. Only a user signed in with
their password (not with another token) makes tokens, so a stolen token cannot renew
itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from pupilshare.errors import Denied, InvalidInput, NotFound, SignInFailed
from pupilshare.governance.access import Principal
from pupilshare.governance.models import ApiToken, Credential, User
from pupilshare.governance.workflow import now
from pupilshare.identity.records import (
    COUNTED,
    LIMITS,
    Limits,
    counted_params,
    own_session,
    record,
    source_key,
    source_refusal,
    too_many,
)
from pupilshare.identity.signin import is_locked, needs_second_factor

PREFIX = "pst"
DEFAULT_DAYS, MAX_DAYS, MAX_DAYS_PRIVILEGED = 30, 365, 30
TOUCH_EVERY = timedelta(minutes=1)  # a used token is recorded at most this often


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    principal: Principal,
    label: str,
    days: int = DEFAULT_DAYS,
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """A new token for the signed-in ``principal`` itself: ``(token, row)``. The
    token text is returned only here; keep it secret."""
    if not principal.signed_in or principal.via == "token":
        raise Denied("API tokens are made by a user signed in with their password")
    most = MAX_DAYS_PRIVILEGED if needs_second_factor(principal.roles) else MAX_DAYS
    if not 1 <= days <= most:
        raise InvalidInput(f"{principal.username}'s tokens last 1 to {most} days")
    label = " ".join(label.split())[:100]
    if not label:
        raise InvalidInput("name the token (what it is for)")
    at = at or now()
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = ApiToken(
        token_id=token_id,
        username=principal.username,
        label=label,
        secret_sha256=_digest(secret),
        created_at=at,
        expires_at=at + timedelta(days=days),
    )
    session.add(row)
    record(
        session,
        at,
        principal.username,
        "manage",
        source,
        "token_created",
        f"{token_id} ({label}), expires {row.expires_at:%Y-%m-%d}",
    )
    session.flush()
    return f"{PREFIX}_{token_id}_{secret}", row


# one statement, built once (every API request runs it): the source's failures,
# the token, its user and credential
_FIND = (
    select(COUNTED, ApiToken, User, Credential)
    .select_from(ApiToken)
    .outerjoin(User, User.username == ApiToken.username)
    .outerjoin(Credential, Credential.username == ApiToken.username)
    .where(ApiToken.token_id == bindparam("token_id"))
)


def verify_token(
    session: Session,
    token: str,
    *,
    source: str = "web",
    at: datetime | None = None,
    limits: Limits = LIMITS,
) -> Principal:
    """The signed-in principal a token stands for, or ``SignInFailed``.

    Failures are always recorded; a success at most once a minute per token (with
    ``last_used_at``), so a busy API client does not write on every call."""
    at = at or now()
    prefix, _, rest = (token or "").strip().partition("_")
    token_id, _, secret = rest.partition("_")
    with own_session(session) as rec:

        def refuse(who: str, outcome: str, message: str) -> SignInFailed:
            record(rec, at, who, "token", source, outcome, token_id[:24])
            rec.commit()
            return SignInFailed(f"sign-in refused: {message}")

        found = (
            rec.execute(
                _FIND,
                {
                    "token_id": token_id,
                    **counted_params(source_key(source), at, limits.window),
                },
            ).first()
            if prefix == PREFIX and secret
            else None
        )
        if found is None:
            if why := too_many(rec, "", source, at, limits):
                raise refuse("", "rate_limited", why)
            raise refuse("", "token_unknown", "API token not recognised")
        failures, row, user, cred = found
        if why := source_refusal(source, int(failures or 0), limits):
            raise refuse("", "rate_limited", why)
        if not hmac.compare_digest(row.secret_sha256, _digest(secret)):
            raise refuse(row.username, "token_unknown", "API token not recognised")
        if row.revoked_at is not None:
            raise refuse(row.username, "token_revoked", "API token revoked")
        if row.expires_at <= at:
            raise refuse(row.username, "token_expired", "API token expired")
        if user is None or not user.active:
            raise refuse(row.username, "inactive", "the token's user is inactive")
        if is_locked(cred, at):
            raise refuse(row.username, "locked", "the token's user is locked")
        if row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY:
            row.last_used_at = at
            record(rec, at, row.username, "token", source, "ok", token_id)
            rec.commit()
        return Principal(
            user.username,
            user.org_id,
            frozenset(user.roles or ()),
            named=True,
            via="token",
        )


def revoke_token(
    session: Session,
    principal: Principal,
    token_id: str,
    reason: str = "",
    *,
    source: str = "cli",
    at: datetime | None = None,
) -> ApiToken:
    """Revoke a token: its owner, or user management (revoking only takes away)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token {token_id!r}")
    if not (principal.named and principal.username == row.username):
        principal.require("manage_users", "revoke other users' API tokens")
    if row.revoked_at is None:
        at = at or now()
        row.revoked_at, row.revoked_by = at, principal.username
        record(
            session,
            at,
            row.username,
            "manage",
            source,
            "token_revoked_by",
            f"{token_id} by {principal.username}: {reason}".strip(),
        )
        session.flush()
    return row


def list_tokens(
    session: Session, principal: Principal, username: str | None = None
) -> list[dict[str, object]]:
    """A user's tokens (never their secrets): one's own, or anyone's for user
    management."""
    username = username or principal.username
    if not (principal.named and principal.username == username):
        principal.require("manage_users", "list other users' API tokens")
    rows = session.scalars(
        select(ApiToken)
        .where(ApiToken.username == username)
        .order_by(ApiToken.created_at)
    )
    at = now()
    return [
        {
            "id": r.token_id,
            "label": r.label,
            "created": r.created_at,
            "expires": r.expires_at,
            "last_used": r.last_used_at,
            "state": "revoked"
            if r.revoked_at
            else "expired"
            if r.expires_at <= at
            else "live",
        }
        for r in rows
    ]
