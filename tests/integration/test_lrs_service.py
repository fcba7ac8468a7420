"""The learner service's register, verify and search, on SQLite and PostgreSQL:
a ULN only on one unambiguous match, a new valid ULN for a new learner of 14+, a
possible match queued and never answered, a wrong pair answered as no match."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.lrs_world import OPS, make_world, user

from pupilshare import lrs
from pupilshare.errors import Denied, InvalidInput, NotFound
from pupilshare.identifiers import is_valid_uln
from pupilshare.lrs import watch

AT = datetime(2026, 11, 3, 10, 0)
ADA = {
    "forenames": "Ada",
    "surname": "Lovelace",
    "date_of_birth": "2010-12-10",
    "sex": "F",
    "postcode": "SW1A 1AA",
}


@pytest.fixture
def world(db_url, home):  # type: ignore[no-untyped-def]
    watch.forget()
    return make_world(home, AT)


def test_new_learner_gets_a_valid_uln_and_is_then_found(world) -> None:
    school = world.users["school"]
    first = lrs.register(world.home, school, ADA, at=AT)
    assert first["outcome"] == "issued"
    uln = first["learner"]["uln"]
    assert is_valid_uln(uln)
    again = lrs.register(world.home, school, {**ADA, "postcode": "SW1A1AA"}, at=AT)
    assert again == {"outcome": "matched", "learner": first["learner"]}
    typo = lrs.register(world.home, school, {**ADA, "forenames": "Adda"}, at=AT)
    assert typo["outcome"] == "matched" and typo["learner"]["uln"] == uln


def test_answers_hold_only_the_agreements_items(world) -> None:
    got = lrs.register(world.home, world.users["school"], ADA, at=AT)
    assert set(got["learner"]) == {"uln", "forenames", "surname", "date_of_birth"}


def test_under_14_not_post14_gets_no_uln(world) -> None:
    young = {**ADA, "date_of_birth": "2015-01-01"}
    got = lrs.register(world.home, world.users["school"], young, at=AT)
    assert got["outcome"] == "not_eligible" and "learner" not in got
    got = lrs.register(world.home, world.users["school"], young, post14=True, at=AT)
    assert got["outcome"] == "issued"


def test_ambiguous_details_never_return_a_uln(world) -> None:
    school = world.users["school"]
    a = lrs.register(world.home, school, ADA, at=AT)
    # a second Ada Lovelace, same birthday, elsewhere: registered apart by UPN
    other = {**ADA, "postcode": "M1 1AE", "upn": "H801200001001"}
    lrs.register(world.home, school, {**other, "forenames": "Augusta"}, at=AT)
    # now details that fit both equally well
    both = {**ADA, "postcode": "B1 1AA"}
    got = lrs.register(world.home, school, both, at=AT)
    assert got["outcome"] in ("possible_match", "matched")
    if got["outcome"] == "matched":
        assert got["learner"]["uln"] == a["learner"]["uln"]
    reviews = lrs.list_reviews(world.home, OPS)
    assert all("uln" not in r for r in reviews)


def test_twins_of_one_name_are_held_for_review(world) -> None:
    from pupilshare.lrs import db, service
    from pupilshare.lrs.details import parse

    with db.session_scope(world.home) as s:
        for _ in range(2):
            d = parse({**ADA, "upn": None}, AT.date())
            service.add_learner(s, d, service.new_uln(s), "register", "t", AT)
    got = lrs.register(world.home, world.users["school"], ADA, at=AT)
    assert got == {
        "outcome": "possible_match",
        "message": "possible match, not returned",
        "case": 1,
    }
    found = lrs.search(world.home, world.users["ao"], ADA, at=AT)
    assert found == {
        "outcome": "possible_match",
        "message": "possible match, not returned",
    }
    assert [r["candidates"] for r in lrs.list_reviews(world.home, OPS)] == [2]
    school = world.users["school"]
    assert lrs.review_case(world.home, school, 1, at=AT) == {
        "case": 1,
        "status": "open",
    }
    with pytest.raises(NotFound):  # another organisation's case
        lrs.review_case(world.home, world.users["ao"], 1, at=AT)
    with pytest.raises(Denied):
        lrs.resolve_review(world.home, school, 1, None, at=AT)
    got = lrs.resolve_review(world.home, OPS, 1, None, at=AT)
    assert got["status"] == "resolved"
    answer = lrs.review_case(world.home, school, 1, at=AT)
    assert answer["status"] == "resolved" and is_valid_uln(answer["learner"]["uln"])


def test_verify_wrong_pair_is_no_match_without_a_hint(world) -> None:
    uln = lrs.register(world.home, world.users["school"], ADA, at=AT)["learner"]["uln"]
    ao = world.users["ao"]
    ok = lrs.verify(world.home, ao, uln, "LOVELACE", "2010-12-10", at=AT)
    assert ok["outcome"] == "match" and ok["learner"]["uln"] == uln
    wrong_name = lrs.verify(world.home, ao, uln, "Byron", "2010-12-10", at=AT)
    wrong_date = lrs.verify(world.home, ao, uln, "Lovelace", "2010-12-11", at=AT)
    unknown = lrs.verify(world.home, ao, "9276308686", "Lovelace", "2010-12-10", at=AT)
    assert wrong_name == wrong_date == unknown == {"outcome": "no_match"}
    with pytest.raises(InvalidInput):
        lrs.verify(world.home, ao, "1234567890", "Lovelace", "2010-12-10", at=AT)


def test_bad_details_name_each_field(world) -> None:
    with pytest.raises(InvalidInput) as e:
        lrs.register(
            world.home,
            world.users["school"],
            {
                "forenames": "",
                "surname": "X1",
                "date_of_birth": "2010-13-01",
                "sex": "Q",
                "postcode": "nowhere",
                "upn": "ZZZ",
            },
            at=AT,
        )
    fields = [x.split(":")[0] for x in e.value.errors]
    assert fields == ["forenames", "surname", "date_of_birth", "sex", "postcode", "upn"]


def test_no_agreement_no_service(world, home) -> None:
    from pupilshare.governance import Principal

    stranger = Principal("x.user", "nobody", frozenset({"lrs_user"}), via="token")
    with pytest.raises(Denied):
        lrs.search(home, stranger, ADA, at=AT)
    not_signed = Principal("school.user1", "school", frozenset({"lrs_user"}))
    with pytest.raises(Denied):
        lrs.search(home, not_signed, ADA, at=AT)
    ops = OPS
    with pytest.raises(Denied):
        lrs.search(home, ops, ADA, at=AT)
    lrs.set_agreement_status(home, OPS, "lrs-school", "suspended")
    with pytest.raises(Denied):
        lrs.search(home, user("school"), ADA, at=AT)


def test_every_answer_is_recorded_and_sealed_into_the_ledger(world, home) -> None:
    from pupilshare import ledger
    from pupilshare.store import Store

    school = world.users["school"]
    uln = lrs.register(world.home, school, ADA, at=AT)["learner"]["uln"]
    lrs.verify(home, world.users["ao"], uln, "Lovelace", "2010-12-10", at=AT)
    lrs.search(home, world.users["ao"], {**ADA, "surname": "Nobody"}, at=AT)
    assert lrs.unsealed(home) == 3
    with Store.open(home) as store:
        assert lrs.seal(home, store) == 3
        assert lrs.seal(home, store) == 0
        mine = ledger.entries_for(store, [ledger.digest(home, f"uln:{uln}")])
    assert lrs.unsealed(home) == 0
    assert [(e["recipient"], e["action"]) for e in mine] == [
        ("school", "register"),
        ("ao", "verify"),
    ]
    assert ledger.verify(home).ok


def test_the_service_sealer_seals_while_its_service_lives(world, home) -> None:  # type: ignore[no-untyped-def]
    """``lrs seal --every S --while-pid P`` (what ``serve`` runs beside itself):
    it seals each answer once while process P lives, then stops by itself."""
    import subprocess
    import sys

    from pupilshare.cli import main
    from pupilshare.store import Store

    uln = lrs.register(home, world.users["school"], ADA, at=AT)["learner"]["uln"]
    lrs.verify(home, world.users["ao"], uln, "Lovelace", "2010-12-10", at=AT)
    assert lrs.unsealed(home) == 2
    service = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    try:
        args = ["--home", str(home.root), "lrs", "seal", "--every", "0.2"]
        main([*args, "--while-pid", str(service.pid)])  # returns once it ends
    except SystemExit as e:
        assert not e.code
    finally:
        service.wait()
    assert lrs.unsealed(home) == 0
    with Store.open(home) as store:
        assert lrs.seal(home, store) == 0  # nothing sealed twice
        total = store.one("SELECT count(*) FROM ledger_entries WHERE kind = 'lookup'")
    assert total == 2


def test_a_learner_service_agreement_answers_nothing_until_decided(world, home) -> None:  # type: ignore[no-untyped-def]
    """Issue 10 point 2, from the command line: data operations alone made a
    learner-service agreement with ``lrs agree`` and the service answered its
    users at once, with no panel and no Chief Statistician. It is decided like any
    other agreement; until then every look-up is refused, whatever its status
    says (set by data operations or edited in the records)."""
    import sqlalchemy as sa
    from tests.lrs_world import CHIEF, PANEL

    from pupilshare import governance
    from pupilshare.cli import main
    from pupilshare.errors import Conflict
    from pupilshare.identity import LOCAL_OPERATOR
    from pupilshare.lrs import db
    from pupilshare.lrs.models import ServiceAgreement

    with governance.session_scope(home) as s:
        governance.add_org(
            s, LOCAL_OPERATOR, "college2", "College", "school/post-16 institution", "L2"
        )
        governance.add_user(
            s, LOCAL_OPERATOR, "college2.user1", "U", "college2", ["lrs_user"]
        )
    asker = user("college2")

    def cli(*args: str) -> int:
        return main(["--home", str(home.root), "lrs", *args])

    assert (
        cli(
            "agree",
            "college2",
            "--id",
            "lrs-college2",
            "--purpose",
            "register new students for their ULNs",
            "--monthly-volume",
            "100",
        )
        == 0
    )
    with pytest.raises(Denied):
        lrs.search(home, asker, ADA, at=AT)
    with pytest.raises(Conflict, match="no decision approves"):
        lrs.set_agreement_status(home, OPS, "lrs-college2", "active")
    with db.session_scope(home) as s:  # edited in the records
        s.execute(
            sa.update(ServiceAgreement)
            .where(ServiceAgreement.agreement_id == "lrs-college2")
            .values(status="active")
        )
    with pytest.raises(Denied):
        lrs.search(home, asker, ADA, at=AT)
    with db.session_scope(home) as s:
        s.get(ServiceAgreement, "lrs-college2").status = "submitted"
    views = ["--view", "pat.panel=approve: fine", "--view", "priya.panel=approve: ok"]
    views += ["--view", "peter.panel=approve: ok"]
    # the local operator (data operations) submitted it: it may not record the
    # panel, and no one decides without a quorate panel
    assert cli("panel", "lrs-college2", *views) != 0
    assert cli("decide", "lrs-college2", "--approve", "--reason", "fine") != 0
    with pytest.raises(Conflict, match="no quorate panel"):
        lrs.decide_agreement(home, CHIEF, "lrs-college2", True, "fine", at=AT)
    members = [m for m in PANEL if m != "cass.chief"]
    lrs.record_agreement_panel(
        home,
        CHIEF,
        "lrs-college2",
        [{"member": m, "view": "approve", "reasons": "ok"} for m in members],
        at=AT,
    )
    with pytest.raises(Denied):  # the panel alone decides nothing
        lrs.search(home, asker, ADA, at=AT)
    got = lrs.decide_agreement(home, CHIEF, "lrs-college2", True, "as advised", at=AT)
    assert got["status"] == "active"
    assert lrs.search(home, asker, ADA, at=AT)["outcome"] == "no_match"
