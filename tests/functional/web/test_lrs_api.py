"""The learner service's API with real tokens: an approved organisation's machine
client registers and verifies; another organisation's user, a user without the
role and an anonymous caller are refused; a throttled user gets 429 and
Retry-After; data operations see the watch."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from tests.lrs_world import make_world

from pupilshare import governance, identity
from pupilshare.governance import Principal
from pupilshare.lrs import watch
from pupilshare.web import create_app

AT = datetime(2026, 11, 3, 10, 0)
ADA = {
    "forenames": "Ada",
    "surname": "Lovelace",
    "date_of_birth": "2010-12-10",
    "sex": "F",
    "postcode": "SW1A 1AA",
}


def token_for(home, username: str, org: str, roles: set[str]) -> str:  # type: ignore[no-untyped-def]
    with governance.session_scope(home) as s:
        who = Principal(username, org, frozenset(roles), via="password")
        token, _ = identity.create_token(s, who, "test client", days=30)
    return token


@pytest.fixture
def api(home):  # type: ignore[no-untyped-def]
    watch.forget()
    make_world(home, AT)
    app = create_app(home, secure_cookies=False)
    app.state.lrs_no_sealer = True
    clock = {"at": AT}
    app.state.lrs_clock = lambda: clock["at"]
    client = TestClient(app, base_url="https://testserver")
    tokens = {
        "school": token_for(home, "school.user1", "school", {"lrs_user"}),
        "ao": token_for(home, "ao.user1", "ao", {"lrs_user"}),
        "screen": token_for(home, "screen.user1", "screen", {"lrs_user"}),
    }
    return client, tokens, clock


def post(client: TestClient, token: str | None, path: str, body: dict):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(path, json=body, headers=headers)


def test_register_then_verify_over_the_api(api) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = api
    r = post(client, tokens["school"], "/api/lrs/learners", ADA)
    assert r.status_code == 200, r.text
    uln = r.json()["learner"]["uln"]
    r = post(
        client,
        tokens["ao"],
        "/api/lrs/verify",
        {"uln": uln, "surname": "lovelace", "date_of_birth": "2010-12-10"},
    )
    assert r.json()["outcome"] == "match"
    r = post(
        client,
        tokens["ao"],
        "/api/lrs/verify",
        {"uln": uln, "surname": "Byron", "date_of_birth": "2010-12-10"},
    )
    assert r.json() == {"outcome": "no_match"}


def test_refused_without_the_role_or_a_sign_in(api) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = api
    assert post(client, None, "/api/lrs/search", ADA).status_code == 401
    assert post(client, "psk_bogus_token", "/api/lrs/search", ADA).status_code == 401


def test_bad_input_is_one_error_shape(api) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _ = api
    r = post(client, tokens["school"], "/api/lrs/learners", {**ADA, "sex": "Q"})
    assert r.status_code == 400
    assert r.json()["errors"] == ["sex: one of M, F, U"]


def test_throttled_then_suspended_over_the_api(api) -> None:  # type: ignore[no-untyped-def]
    client, tokens, clock = api
    codes = []
    for n in range(200):
        clock["at"] = AT + timedelta(seconds=n)
        # a different surname each time, matching nobody
        body = {
            **ADA,
            "surname": "Nobody" + "".join("abcdefghij"[int(c)] for c in str(n)),
        }
        r = post(client, tokens["screen"], "/api/lrs/search", body)
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
    assert 429 in codes and codes[-1] == 403
    ops = token_for(
        client.app.state.web.home, "dora.ops", "department", {"data_operations"}
    )
    r = client.get("/api/lrs/watch", headers={"Authorization": f"Bearer {ops}"})
    assert r.status_code == 200
    flagged = {o["org_id"]: o for o in r.json()["flagged"]}
    page = client.get(
        "/operations/learner-service", headers={"Authorization": f"Bearer {ops}"}
    )
    assert (
        page.status_code == 200 and "screen" in page.text and "suspended" in page.text
    )
    assert flagged["screen"]["open_holds"][0]["state"] == "suspended"
