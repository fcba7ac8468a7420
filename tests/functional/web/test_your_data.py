"""Parents and pupils on the web: a request anyone can make (waiting for the identity
check), an account's own requests, answers and opt-outs, and the attacker's tests:
a parent reaching another family's request by its id, a pupil registering an
opt-out for someone else, a form posted without its CSRF token."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import copy_home
from tests.functional.web.conftest import csrf_of, post_form, sign_in, store_rows

from pupilshare import rights
from pupilshare.config import Home
from pupilshare.governance import add_user, db
from pupilshare.identity import LOCAL_OPERATOR, issue
from pupilshare.rights import accounts
from pupilshare.rights.identity import age_on, subject
from pupilshare.store import Store
from pupilshare.web import create_app
from pupilshare.web.sessions import RateLimit

PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def home(demo_run, tmp_path_factory: pytest.TempPathFactory) -> Home:  # type: ignore[no-untyped-def]
    return copy_home(demo_run.home, tmp_path_factory.mktemp("yourdata") / "home")


def _pupils(home: Home) -> dict[str, tuple]:
    """A child under 12 for each parent, and a pupil of 12 or over."""
    rows = store_rows(
        home,
        "SELECT forename, surname, date_of_birth, upn FROM pupils "
        "WHERE upn IS NOT NULL ORDER BY pupil_key",
    )
    today = date.today()
    young = [r for r in rows if age_on(r[2], today) < 11]
    old = [r for r in rows if age_on(r[2], today) >= 13]
    return {"ann": young[0], "bob": young[1], "cat": old[0], "other": old[1]}


@pytest.fixture(scope="module")
def people(home: Home) -> dict[str, Any]:
    """Three accounts the department made and linked after checking them."""
    found = _pupils(home)
    with db.factory(home.db_url)() as s:
        for name in ("ann.parent", "bob.parent", "cat.pupil"):
            add_user(s, LOCAL_OPERATOR, name, name, "public", ["parent_or_pupil"])
            issue(s, LOCAL_OPERATOR, name, PASSWORD)
        s.commit()
    links = {}
    with Store.open(home) as store:
        for key, user, relation in (
            ("ann", "ann.parent", "child"),
            ("bob", "bob.parent", "child"),
            ("cat", "cat.pupil", "self"),
        ):
            fn, sn, dob, upn = found[key]
            links[key] = accounts.link(
                store,
                user,
                subject(fn, sn, dob.isoformat(), upn),
                relation,
                "passport seen",
                "dora.ops",
            )
    return {"pupils": found, "links": links}


@pytest.fixture(scope="module")
def app(home: Home, people):  # type: ignore[no-untyped-def]
    made = create_app(home, secure_cookies=True)
    made.state.access_requests_limit = RateLimit(1000, 3600)
    return made


def _client(app, home: Home, user: str | None = None) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    if user:
        sign_in(c, home, user, PASSWORD, None)
    return c


def _request_row(home: Home, rid: str) -> dict[str, Any]:
    cols = ("status", "account", "contact", "identity_check", "requester")
    row = store_rows(
        home, f"SELECT {', '.join(cols)} FROM sar_requests WHERE request_id = '{rid}'"
    )
    return dict(zip(cols, row[0], strict=True)) if row else {}


def _ask(client: TestClient, **fields: str):  # type: ignore[no-untyped-def]
    return post_form(client, "/your-data/request", "/your-data/request", fields)


def _public_form(pupil: tuple, **extra: str) -> dict[str, str]:
    fn, sn, dob, upn = pupil
    return {
        "requester": "parent",
        "requester_name": "A Parent",
        "contact": "a.parent@example.org",
        "forename": fn,
        "surname": sn,
        "dob-day": str(dob.day),
        "dob-month": str(dob.month),
        "dob-year": str(dob.year),
        "upn": upn,
        **extra,
    }


def test_anyone_may_ask_and_the_request_waits_for_the_identity_check(
    app, home: Home, people
) -> None:  # type: ignore[no-untyped-def]
    c = _client(app, home)
    r = _ask(c, **_public_form(people["pupils"]["ann"]))
    assert r.status_code == 303, r.text[:500]
    rid = r.headers["location"].split("/")[3]
    done = c.get(r.headers["location"])
    assert done.status_code == 200 and rid in done.text
    assert people["pupils"]["ann"][0] not in done.text  # nothing about the pupil
    row = _request_row(home, rid)
    assert row["status"] == "awaiting_identity" and row["account"] is None
    assert row["contact"] == "a.parent@example.org"
    # never answered before the department checks who asked
    with pytest.raises(Exception, match="not been checked"):
        rights.sar_answer(home, rid, home.root / "packs", "dora.ops")
    got = rights.check_identity(home, rid, "passport seen at the office", "dora.ops")
    assert got["status"] == "open"


def test_the_notice_rules_and_missing_details_are_shown_on_the_form(
    app, home: Home, people
) -> None:  # type: ignore[no-untyped-def]
    c = _client(app, home)
    r = _ask(c, requester="parent")
    assert r.status_code == 400
    for text in ("Enter your full name", "first name", "date of birth"):
        assert text in r.text
    young = _public_form(people["pupils"]["ann"], requester="pupil")
    r = _ask(c, **young)
    assert r.status_code == 400 and "under 12 cannot ask for themself" in r.text
    older = _public_form(people["pupils"]["cat"])  # a parent, a pupil of 13+
    r = _ask(c, **older)
    assert r.status_code == 400 and "how they agreed" in r.text
    r = _ask(c, **older, child_consent="signed letter")
    assert r.status_code == 303


def test_a_form_without_its_csrf_token_records_nothing(app, home: Home, people) -> None:  # type: ignore[no-untyped-def]
    c = _client(app, home)
    before = store_rows(home, "SELECT count(*) FROM sar_requests")[0][0]
    c.get("/your-data/request")
    r = c.post("/your-data/request", data=_public_form(people["pupils"]["bob"]))
    assert r.status_code == 403
    assert store_rows(home, "SELECT count(*) FROM sar_requests")[0][0] == before
    parent = _client(app, home, "ann.parent")
    r = parent.post(
        "/your-data/opt-outs",
        data={"link": str(people["links"]["ann"].link_id), "optout_type": "survey"},
    )
    assert r.status_code == 403


def test_a_parent_asks_follows_and_downloads_the_answer(
    app, home: Home, people
) -> None:  # type: ignore[no-untyped-def]
    ann = _client(app, home, "ann.parent")
    link = people["links"]["ann"]
    form = ann.get("/your-data/request")
    assert link.who.forename in form.text  # the linked child is offered
    r = _ask(ann, link=str(link.link_id))
    assert r.status_code == 303, r.text[:500]
    rid = r.headers["location"].split("/")[3]
    row = _request_row(home, rid)
    assert row["status"] == "open" and row["account"] == "ann.parent"
    assert "linked to the pupil" in row["identity_check"]
    assert rid in ann.get("/your-data/requests").text
    page = ann.get(f"/your-data/requests/{rid}")
    assert page.status_code == 200 and "Being prepared" in page.text
    assert ann.get(f"/your-data/requests/{rid}/response.html").status_code == 404
    pack = rights.sar_answer(home, rid, home.root / "packs", "dora.ops")
    assert pack.outcome == "answered"
    app.state.web.reader.forget()
    got = ann.get(f"/api/your-data/requests/{rid}").json()
    assert got["answered"] and got["status"] == "answered"
    html = ann.get(f"/your-data/requests/{rid}/response.html")
    assert html.status_code == 200
    assert "attachment" in html.headers["content-disposition"]
    assert link.who.surname in html.text and "inclusion path" in html.text
    assert ann.get(f"/your-data/requests/{rid}/response.json").json()["outcome"] == (
        "answered"
    )


def test_a_parent_cannot_reach_another_familys_request(app, home: Home, people) -> None:  # type: ignore[no-untyped-def]
    ann, bob = _client(app, home, "ann.parent"), _client(app, home, "bob.parent")
    rid = _ask(ann, link=str(people["links"]["ann"].link_id)).headers["location"]
    rid = rid.split("/")[3]
    rights.sar_answer(home, rid, home.root / "packs2", "dora.ops")
    app.state.web.reader.forget()
    for path in (
        f"/your-data/requests/{rid}",
        f"/api/your-data/requests/{rid}",
        f"/your-data/requests/{rid}/response.html",
        f"/your-data/requests/{rid}/response.json",
    ):
        r = bob.get(path)
        assert r.status_code == 404, path
        assert people["pupils"]["ann"][1] not in r.text
        assert "content-disposition" not in r.headers
    assert rid not in bob.get("/your-data/requests").text
    assert bob.get("/api/your-data/requests").json() == []
    # nor ask about ann's child by posting ann's link
    before = store_rows(home, "SELECT count(*) FROM sar_requests")[0][0]
    r = _ask(bob, link=str(people["links"]["ann"].link_id))
    assert r.status_code == 400 and "Choose one of your pupils" in r.text
    assert store_rows(home, "SELECT count(*) FROM sar_requests")[0][0] == before
    # and a recipient's account is not a parent's
    assert _client(app, home).get("/your-data/requests").status_code == 303


def test_a_pupil_opts_out_for_themself_and_never_for_someone_else(
    app, home: Home, people
) -> None:  # type: ignore[no-untyped-def]
    cat = _client(app, home, "cat.pupil")
    own = people["links"]["cat"]
    r = post_form(
        cat,
        "/your-data/opt-outs",
        "/your-data/opt-outs",
        {"link": str(own.link_id), "optout_type": "survey", "action": "add"},
    )
    assert r.status_code == 303 and "registered" in r.headers["location"]
    page = cat.get(r.headers["location"])
    assert "Opted out since" in page.text
    assert cat.get("/api/your-data/opt-outs").json()[0]["in_force"].keys() == {"survey"}
    events = store_rows(
        home,
        "SELECT requester, recorded_by, identity_check FROM optout_events "
        f"WHERE forename = '{own.who.forename}' AND surname = '{own.who.surname}'",
    )
    assert events and events[-1][0] == "pupil" and events[-1][1] == "web:cat.pupil"
    before = store_rows(home, "SELECT count(*) FROM optout_events")[0][0]
    token = csrf_of(cat.get("/your-data/opt-outs").text)
    for other in (people["links"]["ann"], people["links"]["bob"]):
        r = cat.post(
            "/your-data/opt-outs",
            data={
                "csrf_token": token,
                "link": str(other.link_id),
                "optout_type": "learning_records",
                "action": "add",
            },
        )
        assert r.status_code == 404
        r = cat.post(
            "/api/your-data/opt-outs",
            json={"link_id": other.link_id, "optout_type": "survey", "action": "add"},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 404
    assert store_rows(home, "SELECT count(*) FROM optout_events")[0][0] == before
    # withdrawing is theirs too, and the history keeps both
    r = post_form(
        cat,
        "/your-data/opt-outs",
        "/your-data/opt-outs",
        {"link": str(own.link_id), "optout_type": "survey", "action": "withdraw"},
    )
    assert r.status_code == 303
    assert cat.get("/api/your-data/opt-outs").json()[0]["in_force"] == {}


def test_online_requests_are_rate_limited(app, home: Home, people) -> None:  # type: ignore[no-untyped-def]
    app.state.access_requests_limit = RateLimit(2, 3600)
    try:
        c = _client(app, home)
        codes = [_ask(c, requester="parent").status_code for _ in range(3)]
        assert codes == [400, 400, 429]
    finally:
        app.state.access_requests_limit = RateLimit(1000, 3600)


def test_the_api_records_a_request_as_the_form_does(app, home: Home, people) -> None:  # type: ignore[no-untyped-def]
    """The JSON API asks as the form does: the same rules, the same record, the
    session's CSRF token required, and the fields to fix named."""
    c = _client(app, home)
    token = csrf_of(c.get("/your-data/request").text)
    fn, sn, dob, upn = people["pupils"]["bob"]
    body = {
        "requester": "parent",
        "requester_name": "B Parent",
        "contact": "b.parent@example.org",
        "forename": fn,
        "surname": sn,
        "date_of_birth": dob.isoformat(),
        "upn": upn,
    }
    before = store_rows(home, "SELECT count(*) FROM sar_requests")[0][0]
    assert c.post("/api/your-data/requests", json=body).status_code == 403
    assert store_rows(home, "SELECT count(*) FROM sar_requests")[0][0] == before
    headers = {"x-csrf-token": token}
    r = c.post("/api/your-data/requests", json=body, headers=headers)
    assert r.status_code == 200, r.text
    rid = r.json()["request_id"]
    row = _request_row(home, rid)
    assert row["status"] == "awaiting_identity" and row["contact"] == body["contact"]
    bad = {**body, "requester_name": "", "surname": ""}
    r = c.post("/api/your-data/requests", json=bad, headers=headers)
    assert r.status_code == 400
    said = r.text
    assert "requester_name" in said and "surname" in said
    r = c.post(
        "/api/your-data/requests", json={**body, "requester": "pupil"}, headers=headers
    )
    # a child under 12 cannot ask for themself: refused by the notice's rule
    assert r.status_code == 403 and "under 12" in r.text


def test_the_api_opens_an_accounts_request_for_its_linked_pupil(
    app, home: Home, people
) -> None:  # type: ignore[no-untyped-def]
    """A linked pupil was checked when linked: the request opens at once, and says
    so; another family's link answers as the form does, recording nothing."""
    parent = _client(app, home, "ann.parent")
    headers = {"x-csrf-token": csrf_of(parent.get("/your-data/request").text)}
    mine = {"link_id": people["links"]["ann"].link_id}
    r = parent.post("/api/your-data/requests", json=mine, headers=headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "open" == _request_row(home, got["request_id"])["status"]
    before = store_rows(home, "SELECT count(*) FROM sar_requests")[0][0]
    theirs = {"link_id": people["links"]["bob"].link_id}
    r = parent.post("/api/your-data/requests", json=theirs, headers=headers)
    assert r.status_code == 404
    assert store_rows(home, "SELECT count(*) FROM sar_requests")[0][0] == before
