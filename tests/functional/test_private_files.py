"""The data home and everything pupilshare writes are private to their owner
(issue 11 point 6), whatever the umask it was started with."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pupilshare import catalogue
from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.plan import ReleasePlan
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world
from pupilshare.synth.valid_returns import write_sample

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def loose(root: Path) -> list[str]:
    """Everything under ``root`` that anyone but the owner can reach."""
    out = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            out.append(f"{path.relative_to(root)} {oct(mode)}")
    return out


def test_a_home_made_under_umask_022_is_private(tmp_path: Path, loose_umask) -> None:
    root = tmp_path / "home"
    with Store() as s:
        good = write_sample(s, catalogue.dataset("census"), tmp_path / "c.csv", 5)
    bad = tmp_path / "bad.csv"
    bad.write_text("nonsense\n")
    assert main(["--home", str(root), "collect", "census", str(good), str(bad)]) == 2
    assert main(["--home", str(root), "agreements", "list"]) == 0
    names = {p.name for p in root.rglob("*")}
    assert {"pupils.duckdb", "governance.sqlite", "reports"} <= names
    assert loose(root) == []
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_releases_are_private_wherever_they_go(tmp_path: Path, loose_umask) -> None:
    home = Home(tmp_path / "home").ensure()
    os.umask(0o022)  # as if something else loosened it again
    with Store.open(home) as store:
        linked_world.make_world(store, pupils=100, seed=2)
        population.ensure_opt_outs(store)
        plan = ReleasePlan(
            "LA-1",
            "LA",
            "SI 2009/1563",
            "own pupils",
            "identified",
            ("census.census_date", "census.upn", "census.surname"),
        )
        m = build_release(store, home, plan, tmp_path / "out" / "r1")
    assert loose(Path(m.out_dir)) == [] and loose(home.root) == []


def test_an_older_loose_home_is_tightened_when_opened(
    tmp_path: Path, loose_umask
) -> None:
    root = tmp_path / "home"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "old.csv").write_text("x")
    os.chmod(root, 0o755)
    os.chmod(root / "reports" / "old.csv", 0o644)
    Home(root).ensure()
    assert loose(root) == []


def test_a_home_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    f = tmp_path / "home.txt"
    f.write_text("not a home")
    assert main(["--home", str(f), "status"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err.replace("\n", "")
    assert f.read_text() == "not a home"
