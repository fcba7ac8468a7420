"""Denied by default, proven: every route of the service against every kind of user.

``CELLS`` is the table: for each route, one request and, for each part allowed to
make it, the status it gets; every part not listed must be refused (anonymous: sent
to sign in, or 401 from the API; signed in: 403). It is written out here, not
derived from ``web.permissions``, so a change to the service's table that this one
does not share fails the test. Object-level refusals (a recipient guessing another
recipient's release id, an officer asking for another authority's pupils) are rows
of their own.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.functional.web.conftest import csrf_of

from pupilshare.web.permissions import ROUTES
from pupilshare.web.sessions import RateLimit

PARTS = (
    "public",
    "recipient",
    "other_recipient",
    "la_officer",
    "panel_member",
    "chief",
    "data_operations",
    "parent",
)
SIGNED_IN = {p: 200 for p in PARTS if p != "public"}
EVERYONE = {p: 200 for p in PARTS}
READERS = {
    "recipient": 200,
    "other_recipient": 200,
    "la_officer": 200,
    "panel_member": 200,
    "chief": 200,
    "data_operations": 200,
}
APPLICANTS = ("recipient", "other_recipient", "la_officer", "data_operations")
PANEL = ("panel_member", "chief", "data_operations")
BAD_APPLICATION = {
    "id": "x",
    "title": "",
    "gateway": "none",
    "purpose": "",
    "level": "aggregate",
    "expiry": "today+30",
    "destroy_by": "today+60",
}
LEARNER = {
    "forenames": "Ada",
    "surname": "Lovelace",
    "date_of_birth": "2010-12-10",
    "sex": "F",
    "postcode": "SW1A 1AA",
}
RESULTS = {"achievements": []}
VERIFY = {"uln": "9276308686", "surname": "Lovelace", "date_of_birth": "2010-12-10"}

# (route name, method, path, body kind, body, {part: status}); {RID} is the
# recipient's (dh-ncmp) release, {OTHER_LA} another authority's code
CELLS: list[tuple[str, str, str, str, Any, dict[str, int]]] = [
    ("home", "GET", "/", "", None, EVERYONE),
    ("health", "GET", "/healthz", "", None, EVERYONE),
    ("openapi", "GET", "/api/openapi.json", "", None, EVERYONE),
    ("register_page", "GET", "/register", "", None, EVERYONE),
    ("api_register", "GET", "/api/register", "", None, EVERYONE),
    ("notice_page", "GET", "/privacy-notice", "", None, EVERYONE),
    ("api_notice", "GET", "/api/privacy-notice", "", None, EVERYONE),
    ("statistics_page", "GET", "/statistics", "", None, EVERYONE),
    ("api_statistics", "GET", "/api/statistics", "", None, EVERYONE),
    ("accessibility_page", "GET", "/accessibility", "", None, EVERYONE),
    ("sign_in_form", "GET", "/sign-in", "", None, EVERYONE),
    ("sign_in", "POST", "/sign-in", "form", {"username": ""}, {p: 400 for p in PARTS}),
    ("sign_out", "POST", "/sign-out", "form", {}, {"public": 303}),
    ("account_page", "GET", "/account", "", None, SIGNED_IN),
    ("api_me", "GET", "/api/me", "", None, SIGNED_IN),
    ("agreements_page", "GET", "/agreements", "", None, READERS),
    ("api_agreements", "GET", "/api/agreements", "", None, READERS),
    (
        "agreement_page",
        "GET",
        "/agreements/dh-ncmp",
        "",
        None,
        {"recipient": 200, "panel_member": 200, "chief": 200, "data_operations": 200},
    ),
    (
        "api_agreement",
        "GET",
        "/api/agreements/dh-ncmp",
        "",
        None,
        {"recipient": 200, "panel_member": 200, "chief": 200, "data_operations": 200},
    ),
    ("apply_form", "GET", "/apply", "", None, {p: 200 for p in APPLICANTS}),
    (
        "apply_check",
        "POST",
        "/apply/check",
        "form",
        {"id": "x"},
        {p: 200 for p in APPLICANTS},
    ),
    (
        "apply_submit",
        "POST",
        "/apply",
        "form",
        {"id": "x"},
        {p: 400 for p in APPLICANTS},
    ),
    (
        "api_apply_check",
        "POST",
        "/api/applications/check",
        "json",
        BAD_APPLICATION,
        {p: 200 for p in APPLICANTS},
    ),
    (
        "api_apply",
        "POST",
        "/api/applications",
        "json",
        BAD_APPLICATION,
        {p: 400 for p in APPLICANTS},
    ),
    ("release_page", "GET", "/releases/{RID}", "", None, {"recipient": 200}),
    (
        "release_file",
        "GET",
        "/releases/{RID}/files/manifest.json",
        "",
        None,
        {"recipient": 200},
    ),
    (
        "api_releases",
        "GET",
        "/api/releases",
        "",
        None,
        {"recipient": 200, "other_recipient": 200, "la_officer": 200},
    ),
    ("api_release", "GET", "/api/releases/{RID}", "", None, {"recipient": 200}),
    ("panel_queue", "GET", "/panel", "", None, {p: 200 for p in PANEL}),
    ("api_panel_queue", "GET", "/api/panel", "", None, {p: 200 for p in PANEL}),
    ("panel_application", "GET", "/panel/dh-ncmp", "", None, {p: 200 for p in PANEL}),
    (
        "api_panel_application",
        "GET",
        "/api/panel/dh-ncmp",
        "",
        None,
        {p: 200 for p in PANEL},
    ),
    # dh-ncmp is active: allowed callers reach the workflow, which refuses (409)
    (
        "panel_record",
        "POST",
        "/panel/dh-ncmp/record",
        "form",
        {},
        {"chief": 409, "data_operations": 409},
    ),
    (
        "api_panel_record",
        "POST",
        "/api/panel/dh-ncmp/record",
        "json",
        {"views": []},
        {"chief": 409, "data_operations": 409},
    ),
    (
        "decide",
        "POST",
        "/panel/dh-ncmp/decide",
        "form",
        {"outcome": "approve", "reasons": "r"},
        {"chief": 409},
    ),
    (
        "api_decide",
        "POST",
        "/api/panel/dh-ncmp/decide",
        "json",
        {"approve": True, "reasons": "r"},
        {"chief": 409},
    ),
    (
        "activate",
        "POST",
        "/panel/dh-ncmp/activate",
        "form",
        {},
        {"chief": 409, "data_operations": 409},
    ),
    (
        "api_activate",
        "POST",
        "/api/panel/dh-ncmp/activate",
        "json",
        {},
        {"chief": 409, "data_operations": 409},
    ),
    (
        "collections_page",
        "GET",
        "/operations/collections",
        "",
        None,
        {"data_operations": 200},
    ),
    ("api_collections", "GET", "/api/collections", "", None, {"data_operations": 200}),
    ("reviews_page", "GET", "/operations/reviews", "", None, {"data_operations": 200}),
    ("api_reviews", "GET", "/api/reviews", "", None, {"data_operations": 200}),
    (
        "review_page",
        "GET",
        "/operations/reviews/999999",
        "",
        None,
        {"data_operations": 404},
    ),
    ("api_review", "GET", "/api/reviews/999999", "", None, {"data_operations": 404}),
    (
        "review_decide",
        "POST",
        "/operations/reviews/999999",
        "form",
        {"outcome": "reject"},
        {"data_operations": 404},
    ),
    (
        "api_review_decide",
        "POST",
        "/api/reviews/999999",
        "json",
        {"accept": False},
        {"data_operations": 404},
    ),
    ("la_pupils_page", "GET", "/local-authority/pupils", "", None, {"la_officer": 200}),
    (
        "api_la_pupils",
        "GET",
        "/api/local-authority/pupils",
        "",
        None,
        {"la_officer": 200},
    ),
    # parents and pupils: anyone may ask (an empty form: what to fix); an account
    # follows its own requests ({PARENT_RID}: the demo's) and opt-outs
    ("your_data_page", "GET", "/your-data", "", None, EVERYONE),
    ("access_request_form", "GET", "/your-data/request", "", None, EVERYONE),
    (
        "access_request",
        "POST",
        "/your-data/request",
        "form",
        {},
        {p: 400 for p in PARTS},
    ),
    (
        "api_access_request",
        "POST",
        "/api/your-data/requests",
        "json",
        {},
        {p: 400 for p in PARTS},
    ),
    (
        "access_request_received",
        "GET",
        "/your-data/request/{PARENT_RID}/received",
        "",
        None,
        EVERYONE,
    ),
    ("my_requests_page", "GET", "/your-data/requests", "", None, {"parent": 200}),
    ("api_my_requests", "GET", "/api/your-data/requests", "", None, {"parent": 200}),
    (
        "my_request_page",
        "GET",
        "/your-data/requests/{PARENT_RID}",
        "",
        None,
        {"parent": 200},
    ),
    (
        "api_my_request",
        "GET",
        "/api/your-data/requests/{PARENT_RID}",
        "",
        None,
        {"parent": 200},
    ),
    (
        "my_request_pack",
        "GET",
        "/your-data/requests/{PARENT_RID}/response.html",
        "",
        None,
        {"parent": 200},
    ),
    ("my_opt_outs_page", "GET", "/your-data/opt-outs", "", None, {"parent": 200}),
    ("api_my_opt_outs", "GET", "/api/your-data/opt-outs", "", None, {"parent": 200}),
    (
        "my_opt_out",
        "POST",
        "/your-data/opt-outs",
        "form",
        {"link": "999999", "optout_type": "survey", "action": "add"},
        {"parent": 404},
    ),
    (
        "api_my_opt_out",
        "POST",
        "/api/your-data/opt-outs",
        "json",
        {"link_id": 999999, "optout_type": "survey", "action": "add"},
        {"parent": 404},
    ),
    # the learner service: none of these parts is an approved organisation's user
    # (tests/functional/web/test_lrs_api.py has those), so all are refused
    ("api_lrs_register", "POST", "/api/lrs/learners", "json", LEARNER, {}),
    ("api_lrs_verify", "POST", "/api/lrs/verify", "json", VERIFY, {}),
    ("api_lrs_search", "POST", "/api/lrs/search", "json", LEARNER, {}),
    (
        "lrs_operations_page",
        "GET",
        "/operations/learner-service",
        "",
        None,
        {"data_operations": 200},
    ),
    ("api_lrs_watch", "GET", "/api/lrs/watch", "", None, {"data_operations": 200}),
    (
        "api_lrs_corrections",
        "GET",
        "/api/lrs/corrections",
        "",
        None,
        {"data_operations": 200},
    ),
    (
        "api_lrs_correction",
        "POST",
        "/api/lrs/corrections/999999",
        "json",
        {"accept": True},
        {"data_operations": 404},
    ),
    (
        "lrs_correction_decide",
        "POST",
        "/operations/learner-service/corrections/999999",
        "form",
        {"decision": "accept"},
        {"data_operations": 404},
    ),
    ("api_lrs_achievements", "POST", "/api/lrs/achievements", "json", RESULTS, {}),
    (
        "api_lrs_achievements_csv",
        "POST",
        "/api/lrs/achievements.csv",
        "json",
        {},
        {},
    ),
    (
        "api_lrs_learner_achievements",
        "POST",
        "/api/lrs/achievements/lookup",
        "json",
        VERIFY,
        {},
    ),
    ("api_lrs_case", "GET", "/api/lrs/cases/1", "", None, {}),
    # a learner's own record: none of these parts is a learner
    ("learner_record_page", "GET", "/my-learning-record", "", None, {}),
    ("api_learner_record", "GET", "/api/my-learning-record", "", None, {}),
    ("learner_access", "POST", "/my-learning-record/access", "form", {}, {}),
    ("learner_opt_out", "POST", "/my-learning-record/opt-out", "form", {}, {}),
    ("learner_correction", "POST", "/my-learning-record/correction", "form", {}, {}),
    (
        "api_learner_access",
        "POST",
        "/api/my-learning-record/access",
        "json",
        {"org_id": "ao", "grant": True},
        {},
    ),
    (
        "api_learner_opt_out",
        "POST",
        "/api/my-learning-record/opt-out",
        "json",
        {"opt_out": True},
        {},
    ),
    (
        "api_learner_correction",
        "POST",
        "/api/my-learning-record/correction",
        "json",
        {"field": "surname", "value": "X"},
        {},
    ),
]
# object-level: allowed by the route table, refused by the area for these objects
OBJECT_CELLS = [
    ("release_page", "/releases/{OTHER_RID}", "recipient"),
    ("api_release", "/api/releases/{OTHER_RID}", "recipient"),
    ("release_file", "/releases/{OTHER_RID}/files/manifest.json", "recipient"),
    ("release_page", "/releases/{RID}", "other_recipient"),
    ("release_file", "/releases/{RID}/files/manifest.json", "la_officer"),
    ("la_pupils_page", "/local-authority/pupils?la={OTHER_LA}", "la_officer"),
    ("api_la_pupils", "/api/local-authority/pupils?la={OTHER_LA}", "la_officer"),
    ("agreement_page", "/agreements/dh-ncmp", "other_recipient"),
    ("api_agreement", "/api/agreements/ofsted-inspection", "recipient"),
]


@pytest.fixture(scope="module", autouse=True)
def _many_asks(app) -> None:  # type: ignore[no-untyped-def]
    """Every part asks for access from one test address, form and API: more than
    the per-address limit, which is not what this table tests."""
    app.state.access_requests_limit = RateLimit(1000, 3600)


@pytest.fixture(scope="module")
def places(release_of, web_home) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from tests.functional.web.conftest import store_rows

    every = {
        r[0] for r in store_rows(web_home, "SELECT DISTINCT la_code FROM ds_schools")
    }
    from pupilshare.governance import db, la_scope
    from pupilshare.governance.access import actor

    with db.factory(web_home.db_url)() as s:
        mine = la_scope(s, actor(s, "la1.officer")).la_codes
    parent_rid = store_rows(
        web_home, "SELECT request_id FROM sar_requests WHERE account = 'pip.parent'"
    )[0][0]
    return {
        "PARENT_RID": parent_rid,
        "RID": release_of("dh-ncmp"),
        "OTHER_RID": release_of("ofsted-inspection"),
        "OTHER_LA": sorted(every - set(mine))[0],
    }


def call(client: TestClient, method: str, path: str, kind: str, body: Any):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(path)
    token = csrf_of(client.get("/sign-in").text)  # any page with a form
    if kind == "json":
        return client.post(path, json=body, headers={"X-CSRF-Token": token})
    return client.post(path, data={"csrf_token": token, **(body or {})})


def refused(part: str, path: str, status: int, location: str | None) -> bool:
    if part == "public":
        if path.startswith("/api/"):
            return status == 401
        return status == 303 and (location or "").startswith("/sign-in")
    return status == 403


@pytest.mark.parametrize("cell", CELLS, ids=[c[0] for c in CELLS])
def test_route_by_role(cell, clients, places) -> None:  # type: ignore[no-untyped-def]
    name, method, path, kind, body, allowed = cell
    path = path.format(**places)
    # signing out would end the shared clients' sessions: test_sign_out does it
    for part in ("public",) if name == "sign_out" else PARTS:
        r = call(clients[part], method, path, kind, body)
        if part in allowed:
            assert r.status_code == allowed[part], (part, path, r.text[:300])
        else:
            assert refused(part, path, r.status_code, r.headers.get("location")), (
                part,
                path,
                r.status_code,
                r.text[:300],
            )
            assert "pupil" not in r.headers.get("content-disposition", "")


@pytest.mark.parametrize(
    "cell", OBJECT_CELLS, ids=[f"{c[0]}-{c[2]}" for c in OBJECT_CELLS]
)
def test_objects_of_others_are_refused(cell, clients, places) -> None:  # type: ignore[no-untyped-def]
    name, path, part = cell
    r = clients[part].get(path.format(**places))
    assert r.status_code == 403, (part, path, r.text[:300])
    assert "content-disposition" not in r.headers


def test_the_table_covers_every_route(app) -> None:  # type: ignore[no-untyped-def]
    """Every route the app serves is in the service's table and in this test's."""
    served = set(app.state.route_names)
    tested = {c[0] for c in CELLS}
    assert served == set(ROUTES), served ^ set(ROUTES)
    assert tested == set(ROUTES), tested ^ set(ROUTES)


def test_a_route_missing_from_the_table_is_refused_to_everyone(app, clients) -> None:  # type: ignore[no-untyped-def]
    """Denied by default: a route added without a row in the table is closed."""

    @app.get("/api/forgotten", name="forgotten")
    def forgotten() -> dict:
        return {"secret": True}

    try:
        for part in PARTS:
            r = clients[part].get("/api/forgotten")
            assert r.status_code == 403 and "secret" not in r.text, part
    finally:
        app.router.routes = [
            r for r in app.router.routes if getattr(r, "name", "") != "forgotten"
        ]


def test_sign_out_ends_the_session(app, web_home, credentials) -> None:  # type: ignore[no-untyped-def]
    from tests.functional.web.conftest import sign_in

    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    issued = credentials["ofsted.analyst"]
    sign_in(c, web_home, "ofsted.analyst", issued.password, None)
    assert c.get("/api/me").json()["username"] == "ofsted.analyst"
    cookie = c.cookies.get("pupilshare_session")
    token = csrf_of(c.get("/account").text)
    assert c.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert c.get("/api/me").status_code == 401
    c.cookies.set("pupilshare_session", cookie)  # a copied cookie is dead too
    assert c.get("/api/me").status_code == 401
