"""The command line's identity, as an attacker would try it: a typed name is not an
identity, a revoked or expired token and a locked account get nothing, and nobody
grants what they do not hold. And as a user would use it: ``users add``, a password
and code piped in, ``users token``, ``users passwd``, ``users lock``."""

from __future__ import annotations

import io
import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.governance import db, seeds
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Agreement, ApiToken, SignIn
from pupilshare.governance.workflow import now

DENIED = 3
ISSUED: dict[str, Any] = {}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("idcli") / "seeded.sqlite"
    url = f"sqlite:///{path}"
    with session_scope(url) as s:
        ISSUED.update(seeds.load_all(s).credentials)
    db.dispose(url)
    return path


@pytest.fixture
def home(home: Home, template: Path) -> Home:
    shutil.copyfile(template, home.root / "governance.sqlite")
    return home


def pipe(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{x}\n" for x in lines)))


def creds(home: Home, username: str) -> list[str]:
    """The user's password and, when needed, their next code."""
    issued = ISSUED[username]
    with session_scope(home) as s:
        code = seeds.next_code(s, issued)
    return [issued.password, *([code] if code else [])]


def cli(home: Home, *args: str) -> int:
    return main(["--home", str(home.root), *args])


def status_of(home: Home, agreement_id: str) -> str:
    with session_scope(home) as s:
        return s.get(Agreement, agreement_id).status


def new_application(tmp_path: Path) -> Path:
    raw = next(a for a in seeds.read_seeds()["agreements"] if a["id"] == "dh-ncmp")
    f = tmp_path / "app.yaml"
    f.write_text(yaml.safe_dump({**raw, "id": "dh-ncmp-2"}))
    return f


def test_a_typed_name_cannot_decide(
    home: Home,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    pipe(monkeypatch, *creds(home, "dh.analyst"))
    assert (
        cli(
            home,
            "--user",
            "dh.analyst",
            "agreements",
            "submit",
            str(new_application(tmp_path)),
        )
        == 0
    )
    views = [
        a
        for m in ("pat.panel", "priya.panel", "peter.panel")
        for a in ("--view", f"{m}=approve: justified")
    ]
    assert cli(home, "agreements", "panel", "dh-ncmp-2", *views) == 0
    decide = ["agreements", "decide", "dh-ncmp-2", "--approve", "--reason", "ok"]
    pipe(monkeypatch)  # nothing to give
    assert cli(home, "--user", "cass.chief", *decide) == DENIED
    monkeypatch.setenv("PUPILSHARE_USER", "cass.chief")
    pipe(monkeypatch, "her password, surely")
    assert cli(home, *decide) == DENIED
    pipe(monkeypatch, ISSUED["cass.chief"].password)  # the password, but no code
    assert cli(home, *decide) == DENIED
    pipe(monkeypatch, ISSUED["cass.chief"].password, "123456")
    assert cli(home, *decide) == DENIED
    assert status_of(home, "dh-ncmp-2") == "submitted"
    capsys.readouterr()
    pipe(monkeypatch, *creds(home, "cass.chief"))
    assert cli(home, *decide) == 0
    assert status_of(home, "dh-ncmp-2") == "approved"
    assert "cass.chief" in capsys.readouterr().out


def _token(
    home: Home,
    user: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    days: int = 30,
) -> str:
    pipe(monkeypatch, *creds(home, user))
    capsys.readouterr()
    assert (
        cli(
            home,
            "--user",
            user,
            "users",
            "token",
            "create",
            "--label",
            "ci",
            "--days",
            str(days),
        )
        == 0
    )
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_revoked_and_expired_tokens_fail(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    token = _token(home, "cass.chief", monkeypatch, capsys)
    assert token.startswith("pst_")
    revoke = ["agreements", "revoke", "ons-matching", "--reason", "ended"]
    assert cli(home, "--token", token, "users", "token", "list") == 0
    token_id = token.split("_")[1]
    # the token works until revoked, then fails
    assert cli(home, "--token", token, "users", "token", "revoke", token_id) == 0
    assert cli(home, "--token", token, *revoke) == DENIED
    assert status_of(home, "ons-matching") == "active"
    # an expired one fails too (dh.analyst's: a code is accepted once, and the
    # chief's next one is not due yet)
    monkeypatch.setenv(
        "PUPILSHARE_TOKEN", _token(home, "dh.analyst", monkeypatch, capsys)
    )
    assert cli(home, "agreements", "list") == 0
    with session_scope(home) as s:
        for row in s.scalars(sa.select(ApiToken).where(ApiToken.revoked_at.is_(None))):
            row.expires_at = now() - timedelta(seconds=1)
    capsys.readouterr()
    assert cli(home, "agreements", "list") == DENIED
    assert "expired" in capsys.readouterr().err
    # and a token is only its own user's
    monkeypatch.delenv("PUPILSHARE_TOKEN")
    other = _token(home, "dh.analyst", monkeypatch, capsys)
    assert cli(home, "--user", "cass.chief", "--token", other, *revoke) == DENIED
    assert status_of(home, "ons-matching") == "active"


def test_a_locked_account_fails(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    token = _token(home, "cass.chief", monkeypatch, capsys)
    assert cli(home, "users", "lock", "cass.chief", "--reason", "phished") == 0
    revoke = ["agreements", "revoke", "ons-matching", "--reason", "ended"]
    pipe(monkeypatch, *creds(home, "cass.chief"))
    assert cli(home, "--user", "cass.chief", *revoke) == DENIED
    assert cli(home, "--token", token, *revoke) == DENIED
    assert status_of(home, "ons-matching") == "active"
    # the local operator cannot lift it (it may be a stolen account)
    assert (
        cli(home, "users", "lock", "cass.chief", "--unlock", "--reason", "x") == DENIED
    )
    capsys.readouterr()
    assert cli(home, "users", "sign-ins", "cass.chief", "--json") == 0
    seen = [r["outcome"] for r in json.loads(capsys.readouterr().out)]
    assert seen[:3] == ["locked", "locked", "lock"]


def test_repeated_failures_lock_the_account(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        pipe(monkeypatch, "not it at all")
        assert cli(home, "--user", "lrs.officer", "agreements", "list") == DENIED
    pipe(monkeypatch, *creds(home, "lrs.officer"))
    assert cli(home, "--user", "lrs.officer", "agreements", "list") == DENIED
    with session_scope(home) as s:
        got = list(
            s.scalars(
                sa.select(SignIn.outcome)
                .where(SignIn.username == "lrs.officer", SignIn.method == "password")
                .order_by(SignIn.sign_in_id)
            )
        )
    assert got == ["bad_password"] * 4 + ["locked_out", "locked"]


def test_nobody_grants_what_they_may_not(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    analyst = _token(home, "dh.analyst", monkeypatch, capsys)
    dora = _token(home, "dora.ops", monkeypatch, capsys)
    grant = [
        "users",
        "roles",
        "dh.analyst",
        "--role",
        "chief_statistician",
        "--reason",
        "promotion",
    ]
    for who in (["--token", analyst], ["--token", dora], []):
        assert cli(home, *who, *grant) == DENIED
        assert (
            cli(
                home,
                *who,
                "users",
                "add",
                "eve",
                "--name",
                "Eve",
                "--org",
                "department",
                "--role",
                "panel_member",
            )
            == DENIED
        )
        assert cli(home, *who, "users", "passwd", "cass.chief") == DENIED
    # the local operator makes no named data operations user either
    assert (
        cli(
            home,
            "users",
            "add",
            "mallory",
            "--name",
            "M",
            "--org",
            "department",
            "--role",
            "data_operations",
        )
        == DENIED
    )
    # the Chief Statistician does, and the new user's credentials are handed over
    chief = _token(home, "cass.chief", monkeypatch, capsys)
    assert (
        cli(
            home,
            "--token",
            chief,
            "users",
            "add",
            "paula.panel",
            "--name",
            "Paula",
            "--org",
            "department",
            "--role",
            "panel_member",
            "--json",
        )
        == 0
    )
    issued = json.loads(capsys.readouterr().out)
    assert issued["password"] and issued["totp_uri"].startswith("otpauth://")


def test_a_new_user_signs_in_and_changes_their_password(
    home: Home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    assert (
        cli(
            home,
            "users",
            "add",
            "new.analyst",
            "--name",
            "New",
            "--org",
            "dh",
            "--role",
            "recipient",
            "--json",
        )
        == 0
    )
    first = json.loads(capsys.readouterr().out)["password"]
    assert first and "totp" not in first
    pipe(monkeypatch, first, "a new and long password")
    assert cli(home, "--user", "new.analyst", "users", "passwd") == 0
    pipe(monkeypatch, first)
    assert cli(home, "--user", "new.analyst", "agreements", "list") == DENIED
    pipe(monkeypatch, "a new and long password")
    assert cli(home, "--user", "new.analyst", "agreements", "list", "--json") == 0
