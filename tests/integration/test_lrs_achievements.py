"""Achievements: all or nothing with file:line:field:reason; seen by an
organisation only with the learner's consent, never under an opt-out (their own,
or one data operations recorded in the rights area); the learner's own record."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.lrs_world import OPS, make_world

from pupilshare import lrs, rights
from pupilshare.errors import Denied, InvalidInput, NotFound
from pupilshare.governance import Principal
from pupilshare.lrs import watch
from pupilshare.lrs.achievements import NOT_FOUND
from pupilshare.store import Store

AT = datetime(2026, 11, 3, 10, 0)
ADA = {
    "forenames": "Ada",
    "surname": "Lovelace",
    "date_of_birth": "2010-12-10",
    "sex": "F",
    "postcode": "SW1A 1AA",
}
HEADER = "uln,surname,date_of_birth,qualification,subject,grade,awarded_on\n"


@pytest.fixture
def world(db_url, home):  # type: ignore[no-untyped-def]
    watch.forget()
    w = make_world(home, AT)
    w.uln = lrs.register(home, w.users["school"], ADA, at=AT)["learner"]["uln"]
    return w


def learner(world) -> Principal:  # type: ignore[no-untyped-def]
    lrs.create_learner_account(world.home, OPS, world.uln, "ada.l")
    return Principal("ada.l", "learners", frozenset({"learner"}), via="password")


def test_a_batch_is_loaded_whole_or_not_at_all(world) -> None:  # type: ignore[no-untyped-def]
    ao = world.users["ao"]
    good = f"{world.uln},Lovelace,2010-12-10,GCSE,Mathematics,9,2026-08-20\n"
    bad = (
        f"{world.uln},Byron,2010-12-10,GCSE,English,7,2026-08-20\n"
        f"1234567890,Lovelace,2010-12-10,,English,7,2030-01-01\n"
    )
    with pytest.raises(InvalidInput) as e:
        lrs.submit_achievements(world.home, ao, HEADER + good + bad, "results.csv", AT)
    assert e.value.errors == [
        "results.csv:3:uln:no learner with this ULN, surname and date of birth",
        "results.csv:4:uln:not a valid ULN (10 digits, check digit)",
        "results.csv:4:qualification:required",
        "results.csv:4:awarded_on:not a date (YYYY-MM-DD), or in the future",
    ]
    got = lrs.submit_achievements(world.home, ao, HEADER + good, "results.csv", AT)
    assert got == {"outcome": "loaded", "achievements": 1, "learners": 1}


def test_only_awarding_organisations_submit(world) -> None:  # type: ignore[no-untyped-def]
    row = {
        "uln": world.uln,
        "surname": "Lovelace",
        "date_of_birth": "2010-12-10",
        "qualification": "GCSE",
        "subject": "Art",
        "grade": "5",
        "awarded_on": "2026-08-20",
    }
    with pytest.raises(Denied):
        lrs.submit_achievements(world.home, world.users["school"], [row], at=AT)


def test_consent_and_opt_out_decide_what_an_organisation_sees(world) -> None:  # type: ignore[no-untyped-def]
    ao = world.users["ao"]
    row = {
        "uln": world.uln,
        "surname": "Lovelace",
        "date_of_birth": "2010-12-10",
        "qualification": "GCSE",
        "subject": "Art",
        "grade": "5",
        "awarded_on": "2026-08-20",
    }
    lrs.submit_achievements(world.home, ao, [row], at=AT)

    def ask() -> str:
        return lrs.achievements_for(
            world.home, ao, world.uln, "Lovelace", "2010-12-10", at=AT
        )["outcome"]

    assert ask() == "not_shared"  # no consent yet
    ada = learner(world)
    lrs.set_access(world.home, ada, "ao", True, at=AT)
    assert ask() == "shared"
    lrs.set_opt_out(world.home, ada, True, at=AT)
    assert ask() == "not_shared"
    lrs.set_opt_out(world.home, ada, False, at=AT)
    assert ask() == "shared"
    # an opt-out data operations record in the rights area, honoured at the seal
    who = rights.subject("Ada", "Lovelace", "2010-12-10", uln=world.uln)
    rights.opt_out(
        world.home, who, "learning_records", "add", "pupil", "Ada", "letter", "dora.ops"
    )
    with Store.open(world.home) as store:
        lrs.seal(world.home, store)
    assert ask() == "not_shared"
    lrs.set_access(world.home, ada, "ao", False, at=AT)
    # a wrong surname says nothing different
    assert lrs.achievements_for(
        world.home, ao, world.uln, "Byron", "2010-12-10", at=AT
    ) == lrs.achievements_for(
        world.home, ao, world.uln, "Lovelace", "2010-12-10", at=AT
    )
    # a school's agreement does not include achievements
    with pytest.raises(Denied):
        lrs.achievements_for(
            world.home, world.users["school"], world.uln, "Lovelace", "2010-12-10", AT
        )


def test_the_learner_sees_who_looked_them_up_from_the_ledger(world) -> None:  # type: ignore[no-untyped-def]
    from pupilshare import ledger

    ao = world.users["ao"]
    lrs.verify(world.home, ao, world.uln, "Lovelace", "2010-12-10", at=AT)
    ada = learner(world)
    with Store.open(world.home) as store:
        lrs.seal(world.home, store)
        rec = lrs.my_record(
            world.home, ada, lambda d: ledger.entries_for(store, d), at=AT
        )
    got = sorted((x["organisation"], x["action"], x["sealed"]) for x in rec["lookups"])
    assert got == [("ao", "verify", True), ("school", "register", True)]
    assert rec["learner"]["uln"] == world.uln
    lrs.request_correction(world.home, ada, "postcode", "SW1A 2AA", "moved", at=AT)
    with pytest.raises(InvalidInput):
        lrs.request_correction(world.home, ada, "uln", "1", "", at=AT)


def test_under_14s_have_no_account_and_others_no_record(world) -> None:  # type: ignore[no-untyped-def]
    young = lrs.register(
        world.home,
        world.users["school"],
        {**ADA, "forenames": "Tom", "date_of_birth": "2014-01-01"},
        post14=True,
        at=AT,
    )["learner"]["uln"]
    with pytest.raises(InvalidInput):
        lrs.create_learner_account(world.home, OPS, young, "tom.l")
    nobody = Principal("x.y", "learners", frozenset({"learner"}), via="password")
    with pytest.raises(NotFound):
        lrs.my_record(world.home, nobody, lambda d: [], at=AT)
    with pytest.raises(Denied):
        lrs.my_record(world.home, world.users["ao"], lambda d: [], at=AT)


def test_a_learners_own_opt_out_reaches_the_rights_area(world) -> None:  # type: ignore[no-untyped-def]
    ada = learner(world)
    lrs.set_opt_out(world.home, ada, True, at=AT)
    assert lrs.unsealed(world.home) >= 1
    with Store.open(world.home) as store:
        lrs.seal(world.home, store)
    events, _ = rights.list_opt_outs(world.home)
    mine = [e for e in events if e.get("optout_type") == "learning_records"]
    assert [e.get("action") for e in mine] == ["add"]
    rec = lrs.my_record(world.home, ada, lambda d: [], at=AT)
    assert rec["opted_out"] and not rec["opted_out_by_rights"]
    lrs.set_opt_out(world.home, ada, False, at=AT)
    with Store.open(world.home) as store:
        lrs.seal(world.home, store)
    events, _ = rights.list_opt_outs(world.home)
    mine = [e for e in events if e.get("optout_type") == "learning_records"]
    assert [e.get("action") for e in mine] == ["add", "withdraw"]
    assert not lrs.my_record(world.home, ada, lambda d: [], at=AT)["opted_out"]


def test_a_batch_reads_its_learners_a_thousand_at_a_time(world) -> None:  # type: ignore[no-untyped-def]
    """Validation is set-based: 2,400 rows naming 1,201 learners read the
    register in two statements (not one per row), and still answer row by row."""
    import sqlalchemy as sa

    from pupilshare.identifiers import UlnIssuer
    from pupilshare.lrs import db

    issuer = UlnIssuer(next_stem=900_000_000)
    strangers = [issuer.issue() for _ in range(1200)]
    lines = [f"{world.uln},Lovelace,2010-12-10,GCSE,Mathematics,9,2026-08-20\n"] * 1200
    lines += [f"{u},Nobody,2010-01-01,GCSE,Art,5,2026-08-20\n" for u in strangers]
    engine = db.factory(db.url_of(world.home)).kw["bind"]
    reads: list[str] = []

    def seen(_c, _cur, statement, *_a) -> None:  # type: ignore[no-untyped-def]
        if "FROM lrs_learners" in statement:
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(InvalidInput) as e:
            lrs.submit_achievements(
                world.home, world.users["ao"], HEADER + "".join(lines), "r.csv", AT
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(reads) == 2
    assert len(e.value.errors) == 1200
    assert e.value.errors[0] == f"r.csv:1202:uln:{NOT_FOUND}"
