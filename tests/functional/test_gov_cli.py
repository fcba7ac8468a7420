"""The governance commands through ``pupilshare.cli.main``: denied by default, the
workflow end to end, and the demo steps."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from rich.console import Console

from pupilshare import identity
from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.demo import DemoRun, agreements_step, register_step
from pupilshare.governance import db, seeds
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Agreement
from pupilshare.governance.workflow import now
from pupilshare.identity import totp

DENIED = 3


ACTING = (
    "dh.analyst",
    "cass.chief",
    "dora.ops",
    "pat.panel",
    "ier.researcher",
    "lrs.officer",
)
TOKENS: dict[str, str] = {}  # user -> an API token they made in the template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds made live once, and an API token for each user the tests act as
    (made as a user does: signed in with password and code); each test's home
    starts from a copy."""
    path = tmp_path_factory.mktemp("gov") / "seeded.sqlite"
    url = f"sqlite:///{path}"
    with session_scope(url) as s:
        out = seeds.load_all(s)
    with session_scope(url) as s:
        signed = [seeds.sign_in(s, out.credentials[u]) for u in ACTING]
        for who in signed:
            TOKENS[who.username] = identity.create_token(s, who, "tests")[0]
    db.dispose(url)
    return path


@pytest.fixture
def seeded(home: Home, template: Path) -> Home:
    shutil.copyfile(template, home.root / "governance.sqlite")
    return home


def run(home: Home, *args: str, user: str | None = None) -> int:
    """Run a command as ``user``, with their API token (a user with none is asked
    for a password, and has none to give)."""
    who = (
        ["--token", TOKENS[user]]
        if user in TOKENS
        else ["--user", user]
        if user
        else []
    )
    return main(["--home", str(home.root), *who, *args])


def test_empty_home_lists_nothing(home: Home, capsys: pytest.CaptureFixture) -> None:
    assert run(home, "agreements", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_denied_by_default(seeded: Home) -> None:
    decide = ["agreements", "decide", "dh-ncmp", "--approve", "--reason", "ok"]
    assert run(seeded, *decide) == DENIED  # the local operator never decides
    assert run(seeded, *decide, user="pat.panel") == DENIED
    assert run(seeded, *decide, user="dh.analyst") == DENIED
    assert run(seeded, "agreements", "list", user="nobody") == DENIED
    assert run(seeded, "orgs", "list", user="ier.researcher") == DENIED
    assert run(seeded, "agreements", "show", "dh-ncmp", user="ier.researcher") == DENIED
    assert run(seeded, "register", "--out", "x", user="ier.researcher") == DENIED
    assert (
        run(
            seeded,
            "users",
            "add",
            "eve",
            "--name",
            "Eve",
            "--org",
            "dh",
            "--role",
            "chief_statistician",
            user="dh.analyst",
        )
        == DENIED
    )
    assert run(seeded, "agreements", "revoke", "dh-ncmp", "--reason", "x") == DENIED


def test_an_application_end_to_end(
    seeded: Home, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    raw = next(a for a in seeds.read_seeds()["agreements"] if a["id"] == "dh-ncmp")
    f = tmp_path / "app.yaml"
    f.write_text(yaml.safe_dump({**raw, "id": "dh-ncmp-2"}))
    assert run(seeded, "agreements", "submit", str(f), user="dh.analyst") == 0
    views = [
        a
        for m in ("pat.panel", "priya.panel", "peter.panel")
        for a in ("--view", f"{m}=approve: justified")
    ]
    assert (
        run(
            seeded,
            "agreements",
            "panel",
            "dh-ncmp-2",
            *views,
            "--condition",
            "annual report of use",
        )
        == 0
    )
    assert (
        run(
            seeded,
            "agreements",
            "decide",
            "dh-ncmp-2",
            "--approve",
            "--reason",
            "sound",
            user="cass.chief",
        )
        == 0
    )
    assert run(seeded, "agreements", "activate", "dh-ncmp-2", user="dora.ops") == 0
    capsys.readouterr()
    assert (
        run(seeded, "agreements", "show", "dh-ncmp-2", "--json", user="dh.analyst") == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["status"] == "active"
    assert [h["to"] for h in d["history"]] == ["submitted", "approved", "active"]
    assert d["panel"][0]["quorate"] and len(d["panel"][0]["members"]) == 3
    assert "annual report of use" in d["decisions"][0]["conditions"]
    assert (
        run(
            seeded,
            "agreements",
            "ask",
            "dh-ncmp-2",
            "--items",
            "ncmp.height_cm",
            "--purpose",
            raw["purpose"],
            "--json",
            user="dh.analyst",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["allowed"] is True


def test_a_refused_submission_gives_every_reason(
    seeded: Home, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    raw = seeds.read_seeds()["refused_examples"][0]
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump({**raw, "id": "lrs-again"}))
    assert run(seeded, "agreements", "submit", str(f), user="lrs.officer") == 2
    err = capsys.readouterr().err
    assert "refused" in err and "ks_results" in err and "younger than 14" in err


def test_an_amendment_through_the_cli(
    seeded: Home, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    f = tmp_path / "amend.yaml"
    f.write_text(yaml.safe_dump({"frequency": "termly"}))
    assert (
        run(
            seeded,
            "agreements",
            "amend",
            "dh-ncmp",
            str(f),
            "--reason",
            "termly monitoring",
            user="dh.analyst",
        )
        == 0
    )
    assert "frequency: 'annual' -> 'termly'" in capsys.readouterr().out
    views = [
        a
        for m in ("pat.panel", "priya.panel", "peter.panel")
        for a in ("--view", f"{m}=approve: fine")
    ]
    assert (
        run(seeded, "agreements", "panel", "dh-ncmp", "--amendment", "1", *views) == 0
    )
    assert (
        run(
            seeded,
            "agreements",
            "decide",
            "dh-ncmp",
            "--amendment",
            "1",
            "--approve",
            "--reason",
            "ok",
            user="dh.analyst",
        )
        == DENIED
    )
    assert (
        run(
            seeded,
            "agreements",
            "decide",
            "dh-ncmp",
            "--amendment",
            "1",
            "--approve",
            "--reason",
            "ok",
            user="cass.chief",
        )
        == 0
    )
    capsys.readouterr()
    assert run(seeded, "agreements", "show", "dh-ncmp") == 0
    shown = capsys.readouterr().out
    assert "version 2" in shown and "amendment 1 (approved" in shown


def test_renaming_an_org_suspends_its_agreements(
    seeded: Home, capsys: pytest.CaptureFixture
) -> None:
    assert (
        run(
            seeded,
            "orgs",
            "change",
            "nab",
            "--field",
            "name",
            "--value",
            "NAB Holdings",
            "--reason",
            "claimed new name",
        )
        == 0
    )
    capsys.readouterr()
    assert run(seeded, "agreements", "list", "--status", "suspended", "--json") == 0
    assert [a["id"] for a in json.loads(capsys.readouterr().out)] == ["nab-awards"]


def test_register_command_and_demo_steps(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = duckdb.connect(str(home.store_path))
    con.execute(
        "CREATE TABLE ds_schools AS SELECT * FROM (VALUES ('820'), ('820'), "
        "('840'), ('916'), ('916'), ('916')) t(la_code)"
    )
    con.close()
    out = io.StringIO()
    demo = DemoRun(home, 100, 1, Console(file=out, width=200))
    summary = agreements_step(demo)
    assert summary.startswith("16 agreements active for 13 recipients; 1 refused")
    assert "younger than 14" in out.getvalue()
    assert "register" in register_step(demo)
    notice = (home.root / "register" / "privacy-notice.txt").read_text()
    assert "Local authority 916 receives" in notice and "Birmingham" not in notice
    with session_scope(home) as s:
        las = {
            a: s.get(Agreement, a).spec["population"]["la_codes"]
            for a in ("la1-own-pupils", "la2-own-pupils")
        }
    assert las == {"la1-own-pupils": ["916"], "la2-own-pupils": ["820"]}
    dora = demo.facts["users"]["dora.ops"]  # the demo's generated credentials work
    code = totp.code_for(dora.totp_secret, totp.step_at(now()))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{dora.password}\n{code}\n"))
    assert (
        main(
            [
                "--home",
                str(home.root),
                "--user",
                "dora.ops",
                "register",
                "--out",
                str(home.root / "r2"),
            ]
        )
        == 0
    )
    register = (home.root / "r2" / "register.csv").read_text()
    # the department's own published statistics are a share like any other
    assert "dfe-ks-trends" in register and "publication" in register
    db.dispose()


def test_status_reports_agreements(seeded: Home, capsys: pytest.CaptureFixture) -> None:
    duckdb.connect(str(seeded.store_path)).close()  # sections need a store
    assert run(seeded, "status", "--json") == 0
    gov = json.loads(capsys.readouterr().out)["governance"]
    assert gov["agreements_by_status"] == {"active": 16, "draft": 1}
