"""The abuse watch: every organisation's and user's look-ups measured against its
agreement, and stopped, not only logged.

Rules (``pace`` is the agreement's monthly volume over 21 working days):

- ``volume_month``: look-ups this calendar month over the monthly volume;
- ``volume_day``: look-ups today over ``max(50, 3 x pace)``;
- ``no_match``: details searches today that matched nobody over ``max(20, pace/10)``;
- ``unregistered``: details searches today that found a learner never registered
  with the organisation, over ``max(20, pace/4)``;
- ``out_of_hours``: a user's look-ups in the last hour outside 07:00-19:00 on
  working days (UK time), over ``max(30, pace/8)`` (an organisation that states a
  national volume may run its batches at night; one that registers dozens a
  month may not).

Past a rule's threshold the user is throttled (one look-up per ``THROTTLE_GAP``),
the organisation flagged for review on the data operations page, and the event
recorded (sealed into the ledger like a look-up); at twice the threshold, or after
``REFUSALS`` refused attempts while throttled, the user is suspended, and any other
user of the organisation is suspended at their next look-up while the
organisation's counts stay over. Holds last until data operations lift them.

The counts are shared by every process that serves (several workers, the command
line): they are rows of ``lrs_watch_counts`` (``WatchCount``), each one user's,
added to by one upsert in the transaction that records the look-up; one statement
then sums the organisation's rows for the day and month and the user's
out-of-hours slots. A user spreading look-ups over workers is counted as one. Per
request that is a few rows by primary key and an index range over the
organisation's users, never a count over the look-ups.

Why per user: a row every user of an organisation adds to is locked by each
look-up's transaction until it commits, so 50 machine clients of one awarding
body queued behind each other's commits (measured: a fifth of the backends
waiting on that row lock at 50 clients). Per-user rows are contended only by the
user's own look-ups. The organisation's sum sees every committed look-up and the
caller's own; it may miss only other users' look-ups still in flight at that
instant (at most one per worker thread), which the next look-up counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from pupilshare.errors import Denied, PupilshareError
from pupilshare.lrs.agreements import Caller
from pupilshare.lrs.models import Hold, Lookup, Registration, WatchCount, WatchEvent

IN_CHUNK = 1000  # values in one IN list (within every database's parameter limit)
THROTTLE_GAP = timedelta(seconds=10)
REFUSALS = 20
OUT_OF_HOURS_BURST = 30
NIGHT_SLOT = timedelta(minutes=5)  # the out-of-hours hour, counted in 12 slots
UK = ZoneInfo("Europe/London")
EPOCH = datetime(1970, 1, 1)
LAST = "last"  # a user's row holding the time of their last look-up
_ADD = (
    "INSERT INTO lrs_watch_counts (org_id, username, period, n, no_match, "
    "unregistered, last_at) VALUES {rows} "
    "ON CONFLICT (org_id, username, period) DO UPDATE SET "
    "n = lrs_watch_counts.n + excluded.n, "
    "no_match = lrs_watch_counts.no_match + excluded.no_match, "
    "unregistered = lrs_watch_counts.unregistered + excluded.unregistered, "
    "last_at = excluded.last_at "
    "RETURNING username, period, n, no_match, unregistered"
)
_NIGHT_SLOTS = int(timedelta(hours=1) / NIGHT_SLOT)  # the out-of-hours hour


class Throttled(PupilshareError):
    """Too many look-ups: slow down (a throttle put on by the abuse watch)."""

    exit_code = 3
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


class Suspended(Denied):
    """The user's access to the learner service is suspended pending review."""


def forget() -> None:
    """Nothing is held in the process any more (the counts are rows); kept so
    callers that reset between scripted worlds still may."""


def thresholds(monthly_volume: int) -> dict[str, float]:
    pace = monthly_volume / 21
    return {
        "volume_month": float(monthly_volume),
        "volume_day": max(50.0, 3 * pace),
        "no_match": max(20.0, pace / 10),
        "unregistered": max(20.0, pace / 4),
        "out_of_hours": max(float(OUT_OF_HOURS_BURST), pace / 8),
    }


def out_of_hours(at: datetime) -> bool:
    local = at.replace(tzinfo=ZoneInfo("UTC")).astimezone(UK)
    return local.weekday() >= 5 or not 7 <= local.hour < 19


def _holds(session: Session, org_id: str, username: str) -> list[Hold]:
    return list(
        session.scalars(
            select(Hold).where(
                Hold.org_id == org_id,
                Hold.username.in_([username, ""]),
                Hold.lifted_at.is_(None),
            )
        )
    )


def day_period(at: datetime) -> str:
    return f"d{at:%Y-%m-%d}"


def month_period(at: datetime) -> str:
    return f"m{at:%Y-%m}"


def _slot(at: datetime) -> int:
    return int((at - EPOCH) // NIGHT_SLOT)


def _night_period(slot: int) -> str:
    return f"h{slot:010d}"


@cache
def _add_statement(n: int) -> TextClause:
    """The upsert of ``n`` rows (made once for each ``n``)."""
    values = ", ".join(
        f"(:o{i}, :u{i}, :p{i}, :n{i}, :x{i}, :r{i}, :t)" for i in range(n)
    )
    return text(_ADD.format(rows=values))


def add(
    session: Session, rows: list[tuple[str, str, str, int, int, int]], at: datetime
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Add ``(org, user, period, n, no_match, unregistered)`` to the shared counts
    in one statement; the new totals by ``(user, period)``."""
    params: dict[str, Any] = {"t": at}
    for i, (org, user, period, n, nm, un) in enumerate(rows):
        params.update(
            {f"o{i}": org, f"u{i}": user, f"p{i}": period}
            | {f"n{i}": n, f"x{i}": nm, f"r{i}": un}
        )
    got = session.execute(_add_statement(len(rows)), params).all()
    return {(u, p): (int(n), int(nm), int(un)) for u, p, n, nm, un in got}


def _seen_statement(night: bool) -> Select[Any]:
    """The rules' sums over the organisation's rows (and the user's out-of-hours
    slots when ``night``), built once: a statement made per look-up cost more of
    its CPU than running it."""
    c = WatchCount
    day, month = bindparam("day"), bindparam("month")
    is_day, is_month = c.period == day, c.period == month
    is_night = and_(
        c.username == bindparam("user"),
        c.period.between(bindparam("first"), bindparam("last")),
    )
    sums = [
        func.coalesce(func.sum(case((is_month, c.n), else_=0)), 0),
        func.coalesce(func.sum(case((is_day, c.n), else_=0)), 0),
        func.coalesce(func.sum(case((is_day, c.no_match), else_=0)), 0),
        func.coalesce(func.sum(case((is_day, c.unregistered), else_=0)), 0),
        func.coalesce(func.sum(case((is_night, c.n), else_=0)), 0)
        if night
        else literal(0),
    ]
    periods = or_(is_day, is_month)
    return select(*sums).where(
        c.org_id == bindparam("org"), or_(periods, is_night) if night else periods
    )


_SEEN = {night: _seen_statement(night) for night in (False, True)}


def _seen(
    session: Session, org_id: str, username: str, at: datetime, night: bool
) -> dict[str, int]:
    """What the rules measure, in one statement: the organisation's look-ups this
    month and today (with today's details searches that matched nobody or found
    an unregistered learner), summed over its users' rows, and the user's
    out-of-hours look-ups in the last hour (12 slots, this one included)."""
    now = _slot(at)
    row = session.execute(
        _SEEN[night],
        {
            "org": org_id,
            "user": username,
            "day": day_period(at),
            "month": month_period(at),
            "first": _night_period(now - _NIGHT_SLOTS + 1),
            "last": _night_period(now),
        },
    ).one()
    month_n, day_n, no_match, unreg, night_n = (int(x) for x in row)
    return {
        "volume_month": month_n,
        "volume_day": day_n,
        "no_match": no_match,
        "unregistered": unreg,
        "out_of_hours": night_n,
    }


def _last(session: Session, org_id: str, username: str) -> datetime | None:
    return session.scalar(
        select(WatchCount.last_at).where(
            WatchCount.org_id == org_id,
            WatchCount.username == username,
            WatchCount.period == LAST,
        )
    )


def admit(session: Session, key: str, caller: Caller, at: datetime) -> None:
    """Before a look-up: refuse a suspended user, slow a throttled one (``key``,
    the records' URL, is the callers' and unused: the counts are in the records).
    The holds are those ``agreements.caller`` read with the agreement."""
    holds = caller.holds
    if any(h.state == "suspended" for h in holds):
        raise Suspended(
            f"{caller.username}'s use of the learner service is suspended pending "
            "review by data operations"
        )
    if not holds:
        return
    last = _last(session, caller.org_id, caller.username)
    if last is None or at - last >= THROTTLE_GAP:
        return
    period = f"r{at:%Y-%m-%d}"  # refusals while throttled, today
    got = add(session, [(caller.org_id, caller.username, period, 1, 0, 0)], at)
    refused = got[(caller.username, period)][0]
    if refused > REFUSALS:
        _act(session, caller, at, "throttle_ignored", "suspended", f"{refused} refused")
    session.commit()  # the count (and any suspension) stands; this request does not
    if refused > REFUSALS:
        raise Suspended(
            f"{caller.username}'s use of the learner service is suspended pending "
            "review by data operations"
        )
    wait = (THROTTLE_GAP - (at - last)).total_seconds()
    raise Throttled("too many look-ups: slow down", wait)


def _registered(session: Session, org_id: str, learner_id: int) -> bool:
    return (
        session.scalar(
            select(Registration.registration_id)
            .where(Registration.org_id == org_id, Registration.learner_id == learner_id)
            .limit(1)
        )
        is not None
    )


def registered_among(session: Session, org_id: str, learner_ids: set[int]) -> set[int]:
    """Which of these learners are registered with the organisation
    (``IN_CHUNK`` to a statement)."""
    wanted, out = sorted(learner_ids), set()
    for i in range(0, len(wanted), IN_CHUNK):
        out.update(
            session.scalars(
                select(Registration.learner_id).where(
                    Registration.org_id == org_id,
                    Registration.learner_id.in_(wanted[i : i + IN_CHUNK]),
                )
            )
        )
    return out


def unregistered(session: Session, caller: Caller, learner_id: int | None) -> bool:
    """Did a details search find a learner never registered with this org?"""
    return learner_id is not None and not _registered(
        session, caller.org_id, learner_id
    )


def observe(
    session: Session, key: str, caller: Caller, row: Lookup, at: datetime
) -> None:
    """After a look-up is recorded: count it, and act on any rule passed."""
    limits = thresholds(caller.agreement.monthly_volume)
    org, user = caller.org_id, caller.username
    nm = int(row.action == "details" and row.outcome == "no_match")
    un = int(row.outcome == "unregistered")
    rows = [
        (org, user, day_period(at), 1, nm, un),
        (org, user, month_period(at), 1, 0, 0),
        (org, user, LAST, 1, 0, 0),
    ]
    night = out_of_hours(at)
    if night:
        rows.append((org, user, _night_period(_slot(at)), 1, 0, 0))
    add(session, rows, at)
    seen = _seen(session, org, user, at, night)
    worst = None
    for rule, n in seen.items():
        if n > 2 * limits[rule]:
            worst = (rule, "suspended", n)
            break
        if n > limits[rule] and worst is None:
            worst = (rule, "throttled", n)
    if worst is None:
        return
    rule, state, n = worst
    _act(session, caller, at, rule, state, f"{n} against a limit of {limits[rule]:.0f}")


def _act(
    session: Session, caller: Caller, at: datetime, rule: str, state: str, detail: str
) -> None:
    holds = _holds(session, caller.org_id, caller.username)
    if any(h.state == "suspended" for h in holds) or (state == "throttled" and holds):
        return
    for h in holds:  # a throttle becomes a suspension
        h.lifted_at, h.lifted_by = at, "watch"
    session.add(
        Hold(
            org_id=caller.org_id,
            username=caller.username,
            state=state,
            rule=rule,
            detail=detail,
            at=at,
        )
    )
    session.add(
        WatchEvent(
            at=at,
            org_id=caller.org_id,
            username=caller.username,
            rule=rule,
            action=state,
            detail=detail,
        )
    )
    flagged = session.scalar(
        select(WatchEvent.event_id)
        .where(WatchEvent.org_id == caller.org_id, WatchEvent.action == "flagged")
        .limit(1)
    )
    if flagged is None:
        session.add(
            WatchEvent(
                at=at,
                org_id=caller.org_id,
                username=caller.username,
                rule=rule,
                action="flagged",
                detail="organisation flagged for review",
            )
        )
    session.flush()


def purge(session: Session) -> int:
    """Delete the counts no rule reads any more; how many rows went. What is
    kept is measured from the newest look-up counted (not the wall clock, so a
    replayed month keeps its own counts): today's and yesterday's day rows and
    refusals, this month's and last month's rows, the last two hours'
    out-of-hours slots, and every user's time of their last look-up."""
    newest = session.scalar(select(func.max(WatchCount.last_at)))
    if newest is None:
        return 0
    yesterday = newest - timedelta(days=1)
    last_month = newest.replace(day=1) - timedelta(days=1)
    old = {
        "d": day_period(yesterday),
        "r": f"r{yesterday:%Y-%m-%d}",
        "m": month_period(last_month),
        "h": _night_period(_slot(newest) - 2 * _NIGHT_SLOTS),
    }
    p = WatchCount.period
    gone = session.execute(
        delete(WatchCount).where(
            or_(*(and_(p.startswith(k), p < v) for k, v in old.items()))
        )
    )
    return int(gone.rowcount or 0)


def lift(session: Session, org_id: str, username: str, by: str, at: datetime) -> int:
    """Data operations lift a user's holds (``username`` empty: all the org's)."""
    q = select(Hold).where(Hold.org_id == org_id, Hold.lifted_at.is_(None))
    if username:
        q = q.where(Hold.username == username)
    rows = list(session.scalars(q))
    for h in rows:
        h.lifted_at, h.lifted_by = at, by
    session.add(
        WatchEvent(
            at=at,
            org_id=org_id,
            username=username,
            rule="review",
            action="lifted",
            detail=f"{len(rows)} hold(s) lifted by {by}",
        )
    )
    return len(rows)


def flagged(session: Session) -> list[dict[str, object]]:
    """Organisations the watch flagged, with their open holds (data operations)."""
    out: dict[str, dict[str, object]] = {}
    for ev in session.scalars(select(WatchEvent).order_by(WatchEvent.event_id)):
        o = out.setdefault(
            ev.org_id, {"org_id": ev.org_id, "events": [], "open_holds": []}
        )
        o["events"].append(  # type: ignore[attr-defined]
            {
                "at": ev.at.isoformat(timespec="seconds"),
                "user": ev.username,
                "rule": ev.rule,
                "action": ev.action,
                "detail": ev.detail,
            }
        )
    for h in session.scalars(select(Hold).where(Hold.lifted_at.is_(None))):
        o = out.setdefault(
            h.org_id, {"org_id": h.org_id, "events": [], "open_holds": []}
        )
        o["open_holds"].append(  # type: ignore[attr-defined]
            {"user": h.username, "state": h.state, "rule": h.rule, "since": str(h.at)}
        )
    return list(out.values())
