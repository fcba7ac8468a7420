"""The ledger, opt-out and subject access commands: their exact interfaces, and
denied by default (a recipient never records an opt-out or reads the ledger's
internals)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_ledger import AGG, PSEUDO

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.governance import db, seeds
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world as sample

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

PUPIL = ["--forename", "F3", "--surname", "S3"]
ASK = [
    "--requester",
    "parent",
    "--requester-name",
    "A Parent",
    "--identity-check",
    "passport seen",
]


ISSUED: dict[str, Any] = {}  # the seed users' generated credentials


@pytest.fixture
def world(home: Home, tmp_path: Path) -> Home:
    with db.factory(home.db_url)() as session:
        ISSUED.update(seeds.load_all(session).credentials)
    with Store.open(home) as store:
        sample.make_world(store, pupils=200, seed=6)
        population.ensure_opt_outs(store)
        build_release(store, home, PSEUDO, tmp_path / "r0")
        build_release(store, home, AGG, tmp_path / "r1")
        dob = store.one("SELECT date_of_birth FROM pupils WHERE pupil_key = 3")
    PUPIL[4:] = ["--dob", dob.isoformat()]
    return home


def _run(home: Home, *args: str, user: str | None = None) -> int:
    """Run a command as ``user``, signing in as they would (password and code piped
    in: a name alone is not an identity)."""
    who, lines = (["--user", user] if user else []), []
    if user:
        with db.factory(home.db_url)() as session:
            code = seeds.next_code(session, ISSUED[user])
        lines = [ISSUED[user].password, *([code] if code else [])]
    stdin, sys.stdin = sys.stdin, io.StringIO("".join(f"{x}\n" for x in lines))
    try:
        return main(["--home", str(home.root), *who, *args])
    finally:
        sys.stdin = stdin


def test_ledger_commands(
    world: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(world, "ledger", "verify") == 0
    capsys.readouterr()
    assert _run(world, "ledger", "checkpoint", "--json") == 0
    cp = json.loads(capsys.readouterr().out)
    assert set(cp) == {"tree_size", "root_hash", "signature", "public_key"}
    assert cp["tree_size"] == 2
    assert _run(world, "ledger", "prove", "0", "--from-size", "1", "--json") == 0
    proof = json.loads(capsys.readouterr().out)
    assert {"inclusion", "consistency", "checkpoint"} <= set(proof)
    out = tmp_path / "ledger.jsonl"
    assert _run(world, "ledger", "export", "--out", str(out)) == 0
    assert {"index", "leaf", "release_id"} <= set(
        json.loads(out.read_text().splitlines()[0])
    )
    with Store.open(world) as store:
        store.rows("UPDATE ledger_entries SET row_count = row_count + 1")
    assert _run(world, "ledger", "verify") == 1
    assert "entry 0: edited" in capsys.readouterr().err


def test_optouts_and_sar_commands(
    world: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["optouts", "add", "--type", "research", *PUPIL, *ASK]
    assert _run(world, *add) == 0
    assert _run(world, *add) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert _run(world, "optouts", "list") == 0
    assert "1 events" in capsys.readouterr().out
    assert _run(world, "optouts", "check") == 0
    assert _run(world, "optouts", "exempt", "AGR-1", "--legal-duty", "x") == 3
    assert (
        _run(
            world,
            "optouts",
            "exempt",
            "dh-ncmp",
            "--legal-duty",
            "Health and Social Care Act 2012 s.259",
            user="cass.chief",
        )
        == 0
    )
    assert (
        _run(world, "sar", "request", *PUPIL, *ASK, "--child-consent", "form signed")
        == 0
    )
    rid = capsys.readouterr().out.split()[-1]
    assert _run(world, "sar", "answer", rid, "--out", str(tmp_path / "pack")) == 0
    assert (tmp_path / "pack" / f"{rid}.html").exists()
    assert _run(world, "sar", "list", "--overdue") == 0
    assert _run(world, "ledger", "verify") == 0


def test_accounts_are_linked_and_online_requests_checked(
    world: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pupilshare import rights

    link = ["--relation", "child", *PUPIL, "--identity-check", "passport seen"]
    assert _run(world, "accounts", "link", "pip.parent", *link) == 0
    assert _run(world, "accounts", "link", "pip.parent", *link) == 0  # idempotent
    assert _run(world, "accounts", "link", "dh.analyst", *link) != 0  # not a parent
    capsys.readouterr()
    assert _run(world, "accounts", "list") == 0
    out = capsys.readouterr().out
    assert "pip.parent child" in out and "1 link(s)" in out
    with Store.open(world) as store:  # as the web form records it
        who = rights.subject(PUPIL[1], PUPIL[3], PUPIL[5])
        rid = rights.request_access(
            store, who, "parent", "A Parent", "a@example.org", "form signed", None
        )
    assert _run(world, "sar", "answer", rid, "--out", str(tmp_path / "p")) != 0
    assert "not been checked" in capsys.readouterr().err
    check = ["sar", "check", rid, "--identity-check", "passport seen"]
    assert _run(world, *check, "--account", "pip.parent") == 0
    assert _run(world, *check) != 0  # once
    assert _run(world, "sar", "answer", rid, "--out", str(tmp_path / "p")) == 0
    assert rights.sar_list(world)[-1]["account"] == "pip.parent"


@pytest.mark.parametrize(
    "args",
    [
        ["accounts", "list"],
        ["sar", "check", "SAR-1", "--identity-check", "x"],
        ["optouts", "add", "--type", "survey", *PUPIL[:4], "--dob", "2014-01-01", *ASK],
        ["optouts", "list"],
        ["optouts", "check"],
        ["sar", "request", *PUPIL[:4], "--dob", "2014-01-01", *ASK],
        ["sar", "list"],
        ["ledger", "verify"],
        ["ledger", "export", "--out", "x.jsonl"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_recipients_are_denied(world: Home, args: list[str]) -> None:
    assert _run(world, *args, user="dh.analyst") == 3
