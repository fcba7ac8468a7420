"""A learner signs in with their password and uses their own record's page:
grants an awarding organisation access, opts out, asks for a correction; the
organisation's answer follows each choice. Forms carry the CSRF token."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from tests.functional.web.conftest import csrf_of
from tests.functional.web.test_lrs_api import ADA, AT, token_for
from tests.lrs_world import OPS, make_world

from pupilshare import lrs
from pupilshare.lrs import watch
from pupilshare.web import create_app


def test_the_learner_page(home) -> None:  # type: ignore[no-untyped-def]
    watch.forget()
    w = make_world(home, AT)
    uln = lrs.register(home, w.users["school"], ADA, at=AT)["learner"]["uln"]
    issued = lrs.create_learner_account(home, OPS, uln, "ada.l")
    app = create_app(home, secure_cookies=False)
    app.state.lrs_no_sealer = True
    app.state.lrs_clock = lambda: datetime(2026, 11, 3, 11, 0)
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = c.get("/sign-in")
    r = c.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "username": "ada.l",
            "password": issued.password,
            "code": "",
            "next": "/my-learning-record",
        },
    )
    assert r.status_code == 303
    page = c.get("/my-learning-record")
    assert page.status_code == 200
    assert uln in page.text and "school" in page.text  # the school looked her up
    ao = token_for(home, "ao.user1", "ao", {"lrs_user"})
    ask = {"uln": uln, "surname": "Lovelace", "date_of_birth": "2010-12-10"}

    def shared() -> str:
        r = c.post(
            "/api/lrs/achievements/lookup",
            json=ask,
            headers={"Authorization": f"Bearer {ao}"},
        )
        return r.json()["outcome"]

    assert shared() == "not_shared"
    token = csrf_of(page.text)
    r = c.post(
        "/my-learning-record/access",
        data={"csrf_token": token, "org_id": "ao", "grant": "yes"},
    )
    assert r.status_code == 303
    assert shared() == "shared"
    r = c.post(
        "/my-learning-record/opt-out", data={"csrf_token": token, "opt_out": "yes"}
    )
    assert r.status_code == 303
    assert shared() == "not_shared"
    r = c.post(
        "/my-learning-record/correction",
        data={"csrf_token": token, "field": "postcode", "value": "SW1A 2AA"},
    )
    assert r.status_code == 303
    page = c.get("/my-learning-record?done=correction")
    assert "postcode to" in page.text and "SW1A 2AA" in page.text
    assert "waiting to be checked" in page.text
    assert "ao" in page.text
    # without the CSRF token a form post is refused
    r = c.post("/my-learning-record/opt-out", data={"opt_out": "no"})
    assert r.status_code == 403
