"""A learner's correction requests, decided by data operations: listed with the
value the register holds, accepted (the register changes, the old value kept) or
rejected with a note; the learner sees each outcome on their record. And as an
attacker would try it: the learner, an organisation's user (by the API, the
operations page's form, the command line, or the area's function) cannot decide,
and nothing changes when they try."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from tests.functional.web.conftest import csrf_of
from tests.functional.web.test_lrs_api import ADA, AT, token_for
from tests.lrs_world import OPS, make_world

from pupilshare import lrs
from pupilshare.cli import main
from pupilshare.errors import Denied
from pupilshare.web import create_app

LATER = datetime(2026, 11, 3, 11, 0)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_clerks_decide_learners_corrections(home, capsys) -> None:  # type: ignore[no-untyped-def]
    w = make_world(home, AT)
    uln = lrs.register(home, w.users["school"], ADA, at=AT)["learner"]["uln"]
    issued = lrs.create_learner_account(home, OPS, uln, "ada.l")
    app = create_app(home, secure_cookies=False)
    app.state.lrs_no_sealer = True
    app.state.lrs_clock = lambda: LATER
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = c.get("/sign-in")
    c.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "username": "ada.l",
            "password": issued.password,
            "code": "",
            "next": "/my-learning-record",
        },
    )
    csrf = csrf_of(c.get("/my-learning-record").text)
    for field, value in (("postcode", "SW1A 2AA"), ("surname", "Byron")):
        r = c.post(
            "/my-learning-record/correction",
            data={"csrf_token": csrf, "field": field, "value": value},
        )
        assert r.status_code == 303
    ops = token_for(home, "dora.ops", "department", {"data_operations"})
    ao = token_for(home, "ao.user1", "ao", {"lrs_user"})
    learner = token_for(home, "ada.l", "learners", {"learner"})
    listed = c.get("/api/lrs/corrections", headers=bearer(ops)).json()
    assert [(x["field"], x["current"], x["value"]) for x in listed] == [
        ("postcode", "SW1A1AA", "SW1A 2AA"),
        ("surname", "Lovelace", "Byron"),
    ]
    assert {x["uln"] for x in listed} == {uln}
    first, second = (x["correction"] for x in listed)

    # the attacker's tries: the learner and an organisation's user, every way in
    for token in (learner, ao):
        r = c.post(
            f"/api/lrs/corrections/{first}",
            json={"accept": True},
            headers=bearer(token),
        )
        assert r.status_code == 403
        assert c.get("/api/lrs/corrections", headers=bearer(token)).status_code == 403
    r = c.post(  # the learner's own session, with its CSRF token, on the ops form
        f"/operations/learner-service/corrections/{first}",
        data={"csrf_token": csrf, "decision": "accept"},
    )
    assert r.status_code == 403
    for who in (w.users["ao"], w.users["school"]):
        with pytest.raises(Denied):
            lrs.decide_correction(home, who, first, True)
    argv = ["--home", str(home.root), "--token"]
    assert main([*argv, ao, "lrs", "correction", str(first), "--accept"]) == 3
    assert main([*argv, learner, "lrs", "corrections"]) == 3
    capsys.readouterr()
    still = lrs.list_corrections(home, OPS)
    assert [x["status"] for x in still] == ["open", "open"]
    mine = c.get("/api/my-learning-record", headers=bearer(learner)).json()
    assert mine["learner"]["postcode"] == "SW1A1AA"  # unchanged
    assert "waiting to be checked" in c.get("/my-learning-record").text

    # data operations decide: one accepted, one rejected with a note
    r = c.post(
        f"/api/lrs/corrections/{first}", json={"accept": True}, headers=bearer(ops)
    )
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    again = c.post(
        f"/api/lrs/corrections/{first}",
        json={"accept": False, "note": "no"},
        headers=bearer(ops),
    )
    assert again.status_code == 409  # decided once
    no_note = c.post(
        f"/api/lrs/corrections/{second}", json={"accept": False}, headers=bearer(ops)
    )
    assert no_note.status_code == 400
    assert main(["--home", str(home.root), "lrs", "corrections", "--json"]) == 0
    assert [x["correction"] for x in json.loads(capsys.readouterr().out)] == [second]
    assert (
        main(
            [
                "--home",
                str(home.root),
                "lrs",
                "correction",
                str(second),
                "--reject",
                "--note",
                "your birth certificate says Lovelace",
            ]
        )
        == 0
    )
    done = {x["correction"]: x for x in lrs.list_corrections(home, OPS, "all")}
    assert done[first]["status"] == "accepted" and done[first]["current"] == "SW1A1AA"
    assert done[first]["decided_by"] == "dora.ops"
    assert done[second]["status"] == "rejected" and done[second]["decided_by"]

    # the learner sees both outcomes, and the register holds the new postcode
    page = c.get("/my-learning-record").text
    assert "corrected on 2026-11-03" in page
    assert "your birth certificate says Lovelace" in page
    mine = c.get("/api/my-learning-record", headers=bearer(learner)).json()
    assert mine["learner"]["postcode"] == "SW1A2AA"
    assert mine["learner"]["surname"] == "Lovelace"
    assert [x["status"] for x in mine["corrections"]] == ["accepted", "rejected"]
    r = c.post(
        "/api/lrs/verify",
        json={"uln": uln, "surname": "Lovelace", "date_of_birth": "2010-12-10"},
        headers=bearer(token_for(home, "school.user2", "school", {"lrs_user"})),
    )
    assert r.json()["outcome"] == "match"
    assert lrs.list_corrections(home, OPS) == []


def test_a_correction_that_would_duplicate_another_learner_is_held(home) -> None:  # type: ignore[no-untyped-def]
    """Ada asks for her surname to become Byron; another learner on the register
    is Ada Byron, born the same day: accepting would leave two learners the
    matcher cannot tell apart, so the clerk is told (409, naming the other ULN)
    and nothing changes; a correction that confuses no one is accepted."""
    from pupilshare.errors import Conflict
    from pupilshare.governance import Principal

    w = make_world(home, AT)
    uln = lrs.register(home, w.users["school"], ADA, at=AT)["learner"]["uln"]
    byron = {**ADA, "surname": "Byron", "postcode": "N1 1AA", "upn": None}
    other = lrs.register(home, w.users["school"], byron, at=AT)
    assert other["outcome"] == "issued"
    lrs.create_learner_account(home, OPS, uln, "ada.l")
    ada = Principal("ada.l", "learners", frozenset({"learner"}), via="password")
    lrs.request_correction(home, ada, "surname", "Byron", "married", at=LATER)
    lrs.request_correction(home, ada, "postcode", "SW1A 2AA", "moved", at=LATER)
    first, second = (c["correction"] for c in lrs.list_corrections(home, OPS))
    with pytest.raises(Conflict) as e:
        lrs.decide_correction(home, OPS, first, True, at=LATER)
    assert other["learner"]["uln"] in str(e.value)
    listed = lrs.list_corrections(home, OPS, "all")
    assert [(c["status"], c["current"]) for c in listed] == [
        ("open", "Lovelace"),
        ("open", "SW1A1AA"),
    ]
    assert lrs.decide_correction(home, OPS, second, True, at=LATER)["status"] == (
        "accepted"
    )
