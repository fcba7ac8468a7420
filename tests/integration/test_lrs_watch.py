"""The abuse watch against two scripted months, on an injected clock.

The screening company: let in as a training provider that registers a couple of
learners a day (dozens a month), it runs hundreds of details searches a day for
weeks, most matching nobody. It must be blocked (suspended) within its first day,
every later attempt refused, the organisation flagged and the events sealed into
the ledger. A normal awarding organisation's month (verifying its candidates'
ULNs, some searches by details, a few typos, a little evening work, results
submitted) must never be throttled or suspended.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.lrs_world import OPS, make_world

from pupilshare import ledger, lrs
from pupilshare.lrs import db, service, watch
from pupilshare.lrs.details import parse
from pupilshare.lrs.models import WatchCount
from pupilshare.store import Store

START = datetime(2026, 11, 2, 8, 0)  # a Monday
FORENAMES = ["Amir", "Beth", "Chen", "Dara", "Eve", "Finn", "Gus", "Hana", "Ivo"]
SURNAMES = ["Okafor", "Patel", "Quinn", "Roberts", "Singh", "Taylor", "Usman"]


def person(rng: random.Random, n: int) -> dict[str, str]:
    return {
        "forenames": rng.choice(FORENAMES),
        "surname": rng.choice(SURNAMES) + "abcdefghij"[n % 10] + "son",
        "date_of_birth": (
            date(2008, 1, 1) + timedelta(days=rng.randrange(900))
        ).isoformat(),
        "sex": rng.choice("MF"),
        "postcode": f"LS{rng.randrange(1, 20)} {rng.randrange(1, 9)}AB",
    }


@pytest.fixture
def world(db_url, home):  # type: ignore[no-untyped-def]
    watch.forget()
    w = make_world(home, START)
    rng = random.Random(5)
    people = [person(rng, n) for n in range(300)]
    ulns = []
    with db.session_scope(home) as s:
        for p in people:
            d = parse(p, START.date())
            ulns.append(
                service.add_learner(s, d, service.new_uln(s), "index", "t", START).uln
            )
    w.people = list(zip(people, ulns, strict=True))
    return w


def working_days(n: int) -> list[datetime]:
    days, d = [], START
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def test_the_screening_company_is_blocked_on_its_first_day(world) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    screen = world.users["screen"]
    answered: list[datetime] = []
    refused: list[datetime] = []
    for day in working_days(15):  # three weeks
        for k in range(2):  # registers a couple of learners a day
            try:
                lrs.register(
                    world.home,
                    screen,
                    person(rng, 1000 + k),
                    at=day + timedelta(hours=1, minutes=k),
                )
            except (lrs.Throttled, lrs.Suspended):
                refused.append(day)
        for i in range(200):  # and searches hundreds of people by details
            at = day + timedelta(hours=1, seconds=30 * i)
            known = rng.random() < 0.3
            who = rng.choice(world.people)[0] if known else person(rng, 5000 + i)
            try:
                lrs.search(world.home, screen, who, at=at)
                answered.append(at)
            except (lrs.Throttled, lrs.Suspended):
                refused.append(at)
    first_day = working_days(1)[0].date()
    assert answered, "the replay never ran"
    assert max(answered).date() == first_day, "answered after its first day"
    assert len(answered) < 120
    assert len(refused) > 2800
    flagged = {o["org_id"]: o for o in lrs.flagged(world.home, OPS)}
    assert "screen" in flagged
    assert any(h["state"] == "suspended" for h in flagged["screen"]["open_holds"])
    actions = [e["action"] for e in flagged["screen"]["events"]]
    assert "flagged" in actions and "suspended" in actions
    assert "ao" not in flagged and "school" not in flagged
    # a second user of the same company is stopped at once
    second = world.users["screen"].__class__(
        "screen.user2", "screen", frozenset({"lrs_user"}), via="token"
    )
    late = working_days(1)[0] + timedelta(hours=9)
    with pytest.raises(lrs.Suspended):
        for i in range(3):
            lrs.search(world.home, second, person(rng, 9000 + i), at=late)
    # every answer and every watch event is in the ledger
    with Store.open(world.home) as store:
        lrs.seal(world.home, store)
        kinds = dict(store.rows("SELECT kind, count(*) FROM ledger_entries GROUP BY 1"))
    assert kinds["watch_event"] >= 3
    assert kinds["lookup"] >= len(answered)
    assert ledger.verify(world.home).ok
    # data operations lift the hold after review
    assert lrs.lift_holds(world.home, OPS, "screen") >= 1


def test_a_normal_awarding_organisations_month_is_never_blocked(world) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(2)
    ao = world.users["ao"]
    answered = 0
    for day in working_days(21):
        for i in range(90):
            at = day + timedelta(hours=1, minutes=5 * i)  # 09:00 to 16:30
            p, uln = rng.choice(world.people)
            r = rng.random()
            if r < 0.85:
                lrs.verify(world.home, ao, uln, p["surname"], p["date_of_birth"], at=at)
            elif r < 0.97:
                lrs.search(world.home, ao, p, at=at)
            else:  # a typo in a candidate's details
                lrs.search(world.home, ao, {**p, "surname": "Zz" + p["surname"]}, at=at)
            answered += 1
        for i in range(5):  # a little work in the evening
            at = day + timedelta(hours=12, minutes=10 * i)
            p, uln = rng.choice(world.people)
            lrs.verify(world.home, ao, uln, p["surname"], p["date_of_birth"], at=at)
            answered += 1
        rows = [
            {
                "uln": uln,
                "surname": p["surname"],
                "date_of_birth": p["date_of_birth"],
                "qualification": "GCSE",
                "subject": "Mathematics",
                "grade": "6",
                "awarded_on": "2026-08-20",
            }
            for p, uln in rng.sample(world.people, 20)
        ]
        lrs.submit_achievements(world.home, ao, rows, f"day-{day:%d}", at=day)
    assert answered == 21 * 95
    assert lrs.flagged(world.home, OPS) == []


def test_purge_keeps_what_the_rules_read_and_drops_the_rest(world) -> None:  # type: ignore[no-untyped-def]
    """Counts no rule reads (days before yesterday, months before last, slots
    over two hours old, old refusals) are deleted; what the rules read, and each
    user's last look-up, stay, measured from the newest look-up counted."""
    newest = datetime(2026, 12, 5, 22, 0)
    rows = [
        ("ao", "u1", watch.day_period(newest), 3, 1, 0),
        ("ao", "u1", watch.day_period(newest - timedelta(days=1)), 2, 0, 0),
        ("ao", "u1", watch.day_period(newest - timedelta(days=2)), 9, 9, 9),
        ("ao", "u1", watch.month_period(newest), 5, 0, 0),
        ("ao", "u1", "m2026-11", 7, 0, 0),
        ("ao", "u1", "m2026-10", 8, 0, 0),
        ("ao", "u1", "r2026-12-05", 1, 0, 0),
        ("ao", "u1", "r2026-12-03", 1, 0, 0),
        ("ao", "u1", watch.LAST, 1, 0, 0),
        ("ao", "", "d2026-11-01", 40, 0, 0),  # an organisation's row of old
    ]
    hour = timedelta(hours=1)
    for back in (timedelta(0), hour, 2 * hour + timedelta(minutes=30)):
        rows.append(("ao", "u1", f"h{watch._slot(newest - back):010d}", 1, 0, 0))
    with db.session_scope(world.home) as s:
        watch.add(s, rows[:-1], newest - timedelta(days=40))
        watch.add(s, rows[-1:], newest)  # the newest look-up counted
    with db.session_scope(world.home) as s:
        assert watch.purge(s) == 5
        left = {p for (p,) in s.execute(select(WatchCount.period))}
    assert left == {
        "d2026-12-05",
        "d2026-12-04",
        "m2026-12",
        "m2026-11",
        "r2026-12-05",
        "last",
        f"h{watch._slot(newest):010d}",
        f"h{watch._slot(newest - hour):010d}",
    }
    with db.session_scope(world.home) as s:
        assert watch.purge(s) == 0
