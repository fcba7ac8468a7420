"""A match run killed midway leaves the index exactly as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

from pupilshare.config import Home
from pupilshare.match import run_match
from pupilshare.store import Store
from pupilshare.synth.labelled_records import generate

TABLES = (
    "pupils",
    "pupil_identifiers",
    "pupil_links",
    "match_runs",
    "match_review",
    "match_unusable",
    "uln_issued",
    "uln_state",
)

# Runs a match in a child process that stops just before ULN issue: by then the run
# has written new pupils, identifiers and links inside its transaction.
CHILD = textwrap.dedent("""
    import sys, time
    from datetime import date
    from pathlib import Path
    from pupilshare.config import Home
    from pupilshare.match import run as run_module
    from pupilshare.store import Store

    def stall(*args, **kwargs):
        print("mid-run", flush=True)
        time.sleep(120)

    run_module.issue_ulns = stall
    home = Home(Path(sys.argv[1]))
    with Store.open(home) as store:
        run_module.run_match(store, home, reference_date=date(2025, 6, 1))
""")


def _snapshot(home: Home) -> dict[str, list[tuple]]:
    with Store(home.store_path, read_only=True) as s:
        return {t: s.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


def test_sigkill_mid_run_leaves_the_index_as_before(home: Home, tmp_path: Path) -> None:
    with Store.open(home) as store:
        generate(store, 150, seed=2, nation=tmp_path / "n1")
        run_match(store, home, reference_date=date(2025, 6, 1))
        generate(store, 100, seed=8, census_terms=1, nation=tmp_path / "n2")
    before = _snapshot(home)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home.root)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mid-run"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert _snapshot(home) == before
    with Store.open(home) as store:  # and the next run does the work
        r = run_match(store, home, reference_date=date(2025, 6, 1))
        assert r.records > 0 and r.new_pupils > 0
