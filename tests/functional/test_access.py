"""Denied by default: every pupil-data command checks who asks before it acts."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
import sqlalchemy as sa

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.governance import db, seeds
from pupilshare.governance.models import SignIn
from pupilshare.identity import totp
from pupilshare.store import Store

COMMANDS = [
    ["collect", "census", "x.csv"],
    ["match"],
    ["review", "list"],
    ["review", "accept", "1"],
    ["status", "--json"],
    ["synth", "--pupils", "100", "--out", "nation"],
    ["link", "a.csv", "b.csv", "--out", "pairs.csv"],
    ["demo"],
]


@pytest.fixture
def issued(home: Home) -> dict[str, Any]:
    """The seeds made live in ``home``: the credentials issued to their users."""
    with db.factory(home.db_url)() as session:
        return seeds.load_all(session).credentials


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What a script pipes in: the password, then the code, a line each."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{x}\n" for x in lines)))


def outcomes(home: Home) -> list[str]:
    with db.factory(home.db_url)() as s:
        return list(
            s.scalars(
                sa.select(SignIn.outcome)
                .where(SignIn.method != "manage")
                .order_by(SignIn.sign_in_id)
            )
        )


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("user", ["dh.analyst", "nobody.at.all"])
def test_recipients_and_strangers_are_denied(
    home: Home,
    issued: dict[str, Any],
    args: list[str],
    user: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded, mine = home, issued.get(user)
    typed(monkeypatch, mine.password if mine else "a guess at a password")
    code = main(["--home", str(seeded.root), "--user", user, *args])
    assert code == 3  # errors.Denied
    # the recipient signed in and was refused by the permission table; the
    # stranger never got in
    assert outcomes(seeded)[-1] == ("ok" if mine else "unknown_user")
    assert not (seeded.root / "nation").exists()
    assert not seeded.store_path.exists() or not Store(
        seeded.store_path, read_only=True
    ).exists("collections")


def test_data_operations_may_read_status(
    home: Home, issued: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded, dora = home, issued["dora.ops"]
    code = totp.code_for(dora.totp_secret, totp.step_at(seeds.workflow.now()))
    typed(monkeypatch, dora.password, code)
    assert main(["--home", str(seeded.root), "--user", "dora.ops", "status"]) == 0
    assert outcomes(seeded)[-2:] == ["code_needed", "ok"]
    assert main(["--home", str(seeded.root), "status"]) == 0  # the local operator
