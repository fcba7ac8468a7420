"""Denied by default: every pupil-data command checks who asks before it acts."""

from __future__ import annotations

import pytest

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.governance import db, seeds
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
def seeded(home: Home) -> Home:
    with db.factory(home.db_url)() as session:
        seeds.load_all(session)
    return home


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("user", ["dh.analyst", "nobody.at.all"])
def test_recipients_and_strangers_are_denied(seeded: Home, args: list[str],
                                             user: str) -> None:  # fmt: skip
    code = main(["--home", str(seeded.root), "--user", user, *args])
    assert code == 3  # errors.Denied
    assert not (seeded.root / "nation").exists()
    assert not seeded.store_path.exists() or not Store(
        seeded.store_path, read_only=True
    ).exists("collections")


def test_data_operations_may_read_status(seeded: Home) -> None:
    assert main(["--home", str(seeded.root), "--user", "dora.ops", "status"]) == 0
    assert main(["--home", str(seeded.root), "status"]) == 0  # the local operator
