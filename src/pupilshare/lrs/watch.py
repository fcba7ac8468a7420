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

Counts are kept per process, started from the records on first sight of an
organisation and day (one service process; a second would count from the records
again at its start).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pupilshare.errors import Denied, PupilshareError
from pupilshare.lrs.agreements import Caller
from pupilshare.lrs.models import Hold, Lookup, Registration, WatchEvent

THROTTLE_GAP = timedelta(seconds=10)
REFUSALS = 20
OUT_OF_HOURS_BURST = 30
UK = ZoneInfo("Europe/London")


class Throttled(PupilshareError):
    """Too many look-ups: slow down (a throttle put on by the abuse watch)."""

    exit_code = 3
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


class Suspended(Denied):
    """The user's access to the learner service is suspended pending review."""


@dataclass
class _Day:
    lookups: int = 0
    no_match: int = 0
    unregistered: int = 0
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _Counts:
    days: dict[tuple[str, str], _Day] = field(default_factory=dict)
    months: dict[tuple[str, str], int] = field(default_factory=dict)
    night: dict[str, deque[datetime]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    last: dict[str, datetime] = field(default_factory=dict)


_COUNTS: dict[str, _Counts] = defaultdict(_Counts)
_LOCK = threading.Lock()


def forget() -> None:
    """Drop every process-held count (tests)."""
    with _LOCK:
        _COUNTS.clear()


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


def _day(session: Session, key: str, org_id: str, at: datetime) -> _Day:
    counts = _COUNTS[key]
    k = (org_id, at.date().isoformat())
    if k not in counts.days:
        start = datetime(at.year, at.month, at.day)
        rows = session.execute(
            select(Lookup.outcome, Lookup.action, func.count())
            .where(Lookup.org_id == org_id, Lookup.at >= start)
            .where(Lookup.at < start + timedelta(days=1))
            .group_by(Lookup.outcome, Lookup.action)
        ).all()
        d = _Day()
        for outcome, action, n in rows:
            d.lookups += n
            if action == "details" and outcome == "no_match":
                d.no_match += n
            if outcome == "unregistered":
                d.unregistered += n
        counts.days[k] = d
    return counts.days[k]


def _month(session: Session, key: str, org_id: str, at: datetime) -> int:
    counts = _COUNTS[key]
    k = (org_id, f"{at:%Y-%m}")
    if k not in counts.months:
        start = datetime(at.year, at.month, 1)
        counts.months[k] = int(
            session.scalar(
                select(func.count()).where(Lookup.org_id == org_id, Lookup.at >= start)
            )
            or 0
        )
    return counts.months[k]


def admit(session: Session, key: str, caller: Caller, at: datetime) -> None:
    """Before a look-up: refuse a suspended user, slow a throttled one."""
    with _LOCK:  # counts start from the records before this look-up is one
        _day(session, key, caller.org_id, at)
        _month(session, key, caller.org_id, at)
    holds = _holds(session, caller.org_id, caller.username)
    if any(h.state == "suspended" for h in holds):
        raise Suspended(
            f"{caller.username}'s use of the learner service is suspended pending "
            "review by data operations"
        )
    if not holds:
        return
    with _LOCK:
        counts = _COUNTS[key]
        last = counts.last.get(caller.username)
        if last is None or at - last >= THROTTLE_GAP:
            return
        day = _day(session, key, caller.org_id, at)
        day.refused[caller.username] += 1
        refused = day.refused[caller.username]
    if refused > REFUSALS:
        _act(session, caller, at, "throttle_ignored", "suspended", f"{refused} refused")
        session.commit()  # the suspension stands, though this request is refused
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
    with _LOCK:
        day = _day(session, key, caller.org_id, at)
        month_key = (caller.org_id, f"{at:%Y-%m}")
        _month(session, key, caller.org_id, at)
        counts = _COUNTS[key]
        day.lookups += 1
        counts.months[month_key] += 1
        if row.action == "details" and row.outcome == "no_match":
            day.no_match += 1
        if row.outcome == "unregistered":
            day.unregistered += 1
        counts.last[caller.username] = at
        night = counts.night[caller.username]
        if out_of_hours(at):
            night.append(at)
        while night and at - night[0] > timedelta(hours=1):
            night.popleft()
        seen = {
            "volume_month": counts.months[month_key],
            "volume_day": day.lookups,
            "no_match": day.no_match,
            "unregistered": day.unregistered,
            "out_of_hours": len(night),
        }
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
