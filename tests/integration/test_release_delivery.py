"""Delivery to another file system, killed (issue 11 point 4): staged beside the
target, recorded only once complete and in place, leftovers cleaned by the next run.

The target is on ``/dev/shm`` (a tmpfs, another device than the home) when the
machine has one; the release runs in a child process that is killed with SIGKILL
while writing files, and again once the folder is renamed into place but before
the record commits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pupilshare.config import Home
from pupilshare.plan import ReleasePlan
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

PLAN = ReleasePlan(
    "AGR-1",
    "University",
    "SI 2009/1563",
    "research",
    "pseudonymised",
    (
        "ks_results.academic_year",
        "ks_results.subject",
        "ks_results.outcome",
        "pupil.pupil_pseudonym",
    ),
)
SCRIPT = (
    "import sys; from pathlib import Path; from pupilshare.config import Home; "
    "from pupilshare.store import Store; "
    "from pupilshare.release.build import build_release; "
    "from pupilshare.release import check; "  # the test's own plan (own_plan)
    "check.governance_reasons = lambda home, plan: []; "
    "from pupilshare.plan import plan_from_json; "
    "home = Home(Path(sys.argv[1])); store = Store.open(home); "
    "build_release(store, home, plan_from_json(Path(sys.argv[2]).read_text()), "
    "Path(sys.argv[3]))"
)


@pytest.fixture
def other_fs(tmp_path: Path) -> Iterator[Path]:
    """A folder on another device than the home (a tmpfs), else a plain folder."""
    shm = Path("/dev/shm")
    if (
        shm.is_dir()
        and os.access(shm, os.W_OK)
        and shm.stat().st_dev != tmp_path.stat().st_dev
    ):
        root = shm / f"pupilshare-test-{uuid.uuid4().hex[:8]}"
        root.mkdir()
        yield root
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    else:
        yield tmp_path / "other"


@pytest.fixture
def world(home: Home) -> Home:
    with Store.open(home) as store:
        linked_world.make_world(store, pupils=300, seed=4)
        population.ensure_opt_outs(store)
    return home


def _kill_when(
    home: Home, tmp_path: Path, out: Path, env: dict[str, str], ready
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(PLAN.to_json())
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(home.root), str(plan_file), str(out)],
        env={**os.environ, "PYTHONPATH": "src", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not ready():
        assert proc.poll() is None, "the release ended before it could be killed"
        time.sleep(0.05)
    assert ready(), "the release never reached the point to kill it at"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _recorded(home: Home) -> int:
    with Store.open(home) as s:
        return s.one("SELECT count(*) FROM releases") if s.exists("releases") else 0


def test_a_delivery_killed_while_writing_records_nothing_and_is_cleaned(
    world: Home, tmp_path: Path, other_fs: Path
) -> None:
    out = other_fs / "recipient" / "release-1"
    _kill_when(
        world,
        tmp_path,
        out,
        {"PUPILSHARE_RELEASE_PAUSE": "5"},
        lambda: any(out.parent.glob(".staging-*/*.parquet")),
    )
    staged = list(out.parent.glob(".staging-*"))
    assert staged and not out.exists()  # staged beside the target, nothing delivered
    assert _recorded(world) == 0
    with Store.open(world) as store:  # the next run cleans up, then delivers
        m = build_release(store, world, PLAN, out)
    assert not any(p.exists() for p in staged)
    assert not list(out.parent.glob(".staging-*"))
    assert (out / "manifest.json").exists() and m.out_dir == str(out)
    assert _recorded(world) == 1


def test_a_delivery_killed_in_place_before_its_record_is_withdrawn(
    world: Home, tmp_path: Path, other_fs: Path
) -> None:
    """Renamed into place, killed before the record commits: the next run removes
    the unrecorded folder (every disclosure is recorded) and its pending note."""
    out = other_fs / "release-2"
    _kill_when(
        world,
        tmp_path,
        out,
        {"PUPILSHARE_RELEASE_PAUSE_MOVED": "30"},
        lambda: (out / "manifest.json").exists(),
    )
    assert _recorded(world) == 0
    with Store.open(world) as store:
        other = other_fs / "release-3"
        build_release(store, world, PLAN, other)
        assert not out.exists()
        assert store.one("SELECT count(*) FROM release_pending") == 0
        assert store.one("SELECT count(*) FROM releases") == 1


def test_a_target_holding_files_is_refused_before_any_work(
    world: Home, tmp_path: Path
) -> None:
    from pupilshare.errors import Conflict

    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("theirs")
    with Store.open(world) as store, pytest.raises(Conflict, match="never overwrites"):
        build_release(store, world, PLAN, out)
    assert (out / "keep.txt").read_text() == "theirs"
    assert not list(tmp_path.glob(".staging-*"))
