"""Sessions, CSRF and the sign-in limit, as an attacker would try them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.functional.web.conftest import csrf_of

from pupilshare.web import create_app


def test_cookie_is_secure_httponly_samesite(app) -> None:  # type: ignore[no-untyped-def]
    c = TestClient(app, base_url="https://testserver")
    cookie = c.get("/sign-in").headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie


def test_a_form_without_its_csrf_token_is_refused(clients) -> None:  # type: ignore[no-untyped-def]
    c = clients["recipient"]
    r = c.post("/apply/check", data={"id": "x"})
    assert r.status_code == 403 and "expired" in r.text
    r = c.post("/apply/check", data={"id": "x", "csrf_token": "forged"})
    assert r.status_code == 403
    r = c.post("/api/applications/check", json={}, headers={"X-CSRF-Token": "no"})
    assert r.status_code == 403


def test_another_sessions_token_does_not_pass(clients) -> None:  # type: ignore[no-untyped-def]
    theirs = csrf_of(clients["other_recipient"].get("/account").text)
    r = clients["recipient"].post("/apply/check", data={"csrf_token": theirs})
    assert r.status_code == 403


def test_an_api_token_acts_without_a_cookie_or_csrf(web_home, credentials, app) -> None:  # type: ignore[no-untyped-def]
    from pupilshare import identity
    from pupilshare.governance import db

    issued = credentials["qcda.officer"]
    with db.factory(web_home.db_url)() as s:
        who = identity.authenticate(s, "qcda.officer", issued.password)
        token, _ = identity.create_token(s, who, "test")
        s.commit()
    c = TestClient(app, base_url="https://testserver")
    auth = {"Authorization": f"Bearer {token}"}
    me = c.get("/api/me", headers=auth)
    assert me.json().get("username") == "qcda.officer", me.text
    r = c.post(
        "/api/applications/check",
        headers=auth,
        json={
            "id": "qcda-x",
            "title": "t",
            "gateway": "pp-research",
            "purpose": "p",
            "level": "aggregate",
            "expiry": "today+30",
            "destroy_by": "today+60",
        },
    )
    assert r.status_code == 200 and r.json()["flags"]
    bad = {"Authorization": f"Bearer {token}x"}
    assert c.get("/api/me", headers=bad).status_code == 401


def test_sign_in_is_rate_limited_by_address(web_home) -> None:  # type: ignore[no-untyped-def]
    """Last in the module: it spends the address's failed sign-ins."""
    app = create_app(web_home)
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    token = csrf_of(c.get("/sign-in").text)
    statuses = [
        c.post(
            "/sign-in",
            data={"csrf_token": token, "username": f"nobody{i}", "password": "wrong"},
        ).status_code
        for i in range(32)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
