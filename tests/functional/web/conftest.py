"""The web service over a copy of the session's demo home, one signed-in client per
user. Clients sign in through the sign-in form, as a person does (CSRF token,
password, and a TOTP code for the roles that need one)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from tests.conftest import copy_home

from pupilshare.config import Home
from pupilshare.web import create_app

# who plays each part (seeds.yaml)
USERS = {
    "recipient": "dh.analyst",
    "other_recipient": "cqc.analyst",
    "la_officer": "la1.officer",
    "panel_member": "pat.panel",
    "chief": "cass.chief",
    "data_operations": "dora.ops",
    "parent": "pip.parent",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def fresh_code(home: Home, username: str, secret: str) -> str:
    """A TOTP code of a time step the user has not used yet (identity accepts a
    step once): waits for the next step when this one is spent."""
    import time
    from datetime import UTC, datetime

    from sqlalchemy import select

    from pupilshare.governance import db
    from pupilshare.governance.models import Credential
    from pupilshare.identity import totp

    with db.factory(home.db_url)() as s:
        last = (
            s.scalar(
                select(Credential.totp_last_step).where(Credential.username == username)
            )
            or 0
        )
    while True:
        step = totp.step_at(datetime.now(UTC).replace(tzinfo=None))
        if step > last:
            return totp.code_for(secret, step)
        time.sleep(0.5)


def sign_in(
    client: TestClient, home: Home, username: str, password: str, secret: str | None
) -> None:
    form = client.get("/sign-in")
    r = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(form.text),
            "username": username,
            "password": password,
            "code": fresh_code(home, username, secret) if secret else "",
            "next": "/account",
        },
    )
    assert r.status_code == 303, f"{username} could not sign in: {r.text[:500]}"


@pytest.fixture(scope="module")
def web_home(demo_run, tmp_path_factory: pytest.TempPathFactory) -> Home:  # type: ignore[no-untyped-def]
    return copy_home(demo_run.home, tmp_path_factory.mktemp("web") / "home")


@pytest.fixture(scope="module")
def credentials(demo_run) -> dict:  # type: ignore[no-untyped-def]
    return demo_run.facts["users"]


@pytest.fixture(scope="module")
def app(web_home: Home):  # type: ignore[no-untyped-def]
    return create_app(web_home, secure_cookies=True)


@pytest.fixture(scope="module")
def clients(app, credentials, web_home) -> Iterator[dict[str, TestClient]]:  # type: ignore[no-untyped-def]
    """One client per part, signed in once (a TOTP code is accepted only once)."""
    out = {
        "public": TestClient(app, base_url="https://testserver", follow_redirects=False)
    }
    for part, username in USERS.items():
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        issued = credentials[username]
        sign_in(c, web_home, username, issued.password, issued.totp_secret)
        out[part] = c
    yield out
    for c in out.values():
        c.close()


def store_rows(home: Home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.store_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def release_of(web_home: Home) -> Callable[[str], str]:
    rows = dict(store_rows(web_home, "SELECT agreement_id, release_id FROM releases"))
    return lambda agreement_id: str(rows[agreement_id])


def post_form(client: TestClient, page: str, action: str, data: dict | list) -> object:
    """Post a form as the browser would: with the CSRF token of the page."""
    token = csrf_of(client.get(page).text)
    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    form: dict[str, list[str]] = {"csrf_token": [token]}
    for k, v in pairs:
        form.setdefault(k, []).append(v)
    return client.post(action, data=form)


__all__ = [
    "USERS",
    "Path",
    "csrf_of",
    "fresh_code",
    "post_form",
    "sign_in",
    "store_rows",
]
