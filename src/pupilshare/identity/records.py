"""Sign-in records and the limits read from them.

Every attempt is a ``sign_ins`` row, written in a session of its own and committed at
once: a refused sign-in usually ends the caller's unit of work with a rollback, and
the record of it must survive that. The rate limits count those same rows, so they
hold across processes (the command line and the web service share them). They
are read from ``sign_in_counts`` (``SignInCount``), bucketed counts added to in the
same transaction as each row, so a check reads a few rows by primary key however
many attempts a source has made (``sign_ins`` keeps every one).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, literal, select, text, union
from sqlalchemy.orm import Session

from pupilshare.governance.access import OPERATOR
from pupilshare.governance.models import SignIn, SignInCount, UserChange

# outcomes that are failed attempts (counted against a source)
FAILURES = frozenset(
    {
        "unknown_user",
        "no_password",
        "inactive",
        "bad_password",
        "bad_code",
        "locked",
        "locked_out",
        "rate_limited",
        "no_second_factor",
        "token_unknown",
        "token_revoked",
        "token_expired",
    }
)


@dataclass(frozen=True)
class Limits:
    """Lock-out and rate limits. An account locks for ``lock_for`` after
    ``max_failures`` wrong passwords or codes in a row; one user name gets at most
    ``per_user`` attempts a ``window`` (any outcome), one source at most
    ``per_source`` failed attempts a ``window``."""

    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=1)
    per_user: int = 10
    per_source: int = 30


LIMITS = Limits()
PASSWORD_METHODS = ("password", "password+totp")
BUCKET = timedelta(seconds=10)  # a window is counted whole, and up to a bucket more
EPOCH = datetime(1970, 1, 1)
_ADD = text(
    "INSERT INTO sign_in_counts (key, bucket, n) VALUES (:key, :bucket, 1) "
    "ON CONFLICT (key, bucket) DO UPDATE SET n = sign_in_counts.n + 1"
)


def _bucket(at: datetime) -> int:
    return int((at - EPOCH) // BUCKET)


def _keys(username: str, method: str, source: str, outcome: str) -> list[str]:
    """The counts an attempt adds to: its user's (password sign-ins), its
    source's (failures)."""
    keys = []
    if method in PASSWORD_METHODS:
        keys.append(f"user:{username[:64]}")
    if outcome in FAILURES:
        keys.append(source_key(source))
    return keys


@contextmanager
def own_session(session: Session) -> Iterator[Session]:
    """A session on the caller's database that commits independently of it.

    Call identity functions before writing in ``session``: on SQLite a second
    writer waits for the first to commit."""
    with Session(bind=session.get_bind(), expire_on_commit=False) as rec:
        yield rec


def record(
    session: Session,
    at: datetime,
    username: str,
    method: str,
    source: str,
    outcome: str,
    detail: str = "",
    changed_by: str | None = None,
) -> None:
    session.add(
        SignIn(
            at=at,
            username=username[:64],
            method=method,
            source=source[:100],
            outcome=outcome,
            detail=detail,
            changed_by=changed_by,
        )
    )
    for key in _keys(username, method, source, outcome):
        session.execute(_ADD, {"key": key, "bucket": _bucket(at)})


# attempts counted under :count_key in the buckets :count_from to :count_to, as a
# subquery built once (a busy API client's every request reads it, in the
# statement that finds its token); ``counted_params`` fills it in
COUNTED = (
    select(func.coalesce(func.sum(SignInCount.n), 0))
    .where(
        SignInCount.key == bindparam("count_key"),
        SignInCount.bucket >= bindparam("count_from"),
        SignInCount.bucket <= bindparam("count_to"),
    )
    .scalar_subquery()
)


def counted_params(key: str, at: datetime, window: timedelta) -> dict[str, Any]:
    """``COUNTED``'s parameters: attempts under ``key`` in the window ending at
    ``at`` (the buckets it touches: at most one bucket's worth more than the
    window, never less)."""
    return {
        "count_key": key,
        "count_from": _bucket(at - window),
        "count_to": _bucket(at),
    }


def source_key(source: str) -> str:
    return f"source:{source[:100]}"


def source_refusal(source: str, failures: int, limits: Limits) -> str:
    """Why a source is over its limit of failures (empty when it is not)."""
    if failures >= limits.per_source:
        return f"more than {limits.per_source} failed sign-ins a minute from {source}"
    return ""


_COUNT = select(COUNTED)


def _count(session: Session, key: str, at: datetime, window: timedelta) -> int:
    return int(session.scalar(_COUNT, counted_params(key, at, window)) or 0)


def too_many(
    session: Session, username: str, source: str, at: datetime, limits: Limits
) -> str:
    """Why this attempt is over a rate limit (empty when it is not)."""
    if username:
        by_user = _count(session, f"user:{username[:64]}", at, limits.window)
        if by_user >= limits.per_user:
            return (
                f"more than {limits.per_user} sign-in attempts a minute for {username}"
            )
    by_source = _count(session, source_key(source), at, limits.window)
    return source_refusal(source, by_source, limits)
    return ""


def history(
    session: Session, username: str | None = None, limit: int = 100
) -> list[dict[str, object]]:
    """The newest sign-in records (of one user name, or all)."""
    q = select(SignIn).order_by(SignIn.sign_in_id.desc()).limit(limit)
    if username:
        q = q.where(SignIn.username == username)
    return [
        {
            "at": r.at,
            "username": r.username,
            "method": r.method,
            "source": r.source,
            "outcome": r.outcome,
            "detail": r.detail,
        }
        for r in session.scalars(q)
    ]


# credential changes that give their maker the account (they know or set how to
# sign in as it); a lock takes access away and gives none
GRANTS = ("password_set", "totp_enrolled", "unlock")


def chain_of(session: Session, username: str) -> set[str]:
    """Every account joined to ``username`` by a chain of accounts that created or
    changed (roles, activation, credentials) one another, upwards (who made or
    changed it, who made or changed them...) and downwards (what it made or
    changed...): the accounts one person may hold through ``username``. Read from
    ``user_changes`` and the credential changes in ``sign_ins``, walked by the
    database (a recursive query). The unnamed local operator's own changes are left
    out: it made every seeded account and is kept apart by its own rules."""
    edges = union(
        select(
            cast(UserChange.changed_by, Text).label("by"),
            cast(UserChange.username, Text).label("account"),
        ).where(UserChange.changed_by != OPERATOR),
        select(cast(SignIn.changed_by, Text), cast(SignIn.username, Text)).where(
            SignIn.method == "manage",
            SignIn.outcome.in_(GRANTS),
            SignIn.changed_by.is_not(None),
            SignIn.changed_by != OPERATOR,
        ),
    ).cte("edges")
    found: set[str] = set()
    for near, far in (("account", "by"), ("by", "account")):  # up, then down
        start = select(cast(literal(username), Text).label("name"))
        walk = start.cte(f"walk_{far}", recursive=True)
        walk = walk.union(select(edges.c[far]).join(walk, edges.c[near] == walk.c.name))
        found.update(session.scalars(select(walk.c.name)))
    found.discard(username)
    return found
