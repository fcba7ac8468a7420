"""A load is atomic: a process killed with SIGKILL mid-load leaves the store as before.

The child process collects a large valid file; a hook stops it just after the rows
are inserted (inside the open transaction) and tells the parent, which kills it. The
store must then hold exactly what it held before: the earlier collection, no new
collection row, no new dataset rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from pupilshare import catalogue
from pupilshare.collect import Collector
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth.valid_returns import write_sample

SRC = Path(__file__).resolve().parents[2] / "src"

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from pupilshare import catalogue
    from pupilshare.collect import Collector
    from pupilshare.config import Home
    from pupilshare.store import Store

    real = Store.execute

    def execute(self, sql, params=None):
        out = real(self, sql, params)
        if sql.startswith('EXECUTE collect_insert'):
            print("inside", flush=True)   # rows written, transaction still open
            time.sleep(60)
        return out

    Store.execute = execute
    home = Home(Path(sys.argv[1]))
    with Store.open(home) as store:
        Collector(store, home).collect(catalogue.dataset("census"), Path(sys.argv[2]))
    print("finished", flush=True)
    """
)


def test_sigkill_mid_load_leaves_the_store_as_before(
    home: Home, tmp_path: Path
) -> None:
    census = catalogue.dataset("census")
    with Store() as s:
        first = write_sample(s, census, tmp_path / "first.csv", 50)
        big = write_sample(s, census, tmp_path / "big.csv", 20_000, start=1000)
    with Store.open(home) as store:
        out = Collector(store, home).collect(census, first)
    assert out.status == "loaded"

    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home.root), str(big)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "inside"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    con = duckdb.connect(str(home.store_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM collections").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM ds_census").fetchone() == (50,)
        assert con.execute("SELECT count(*) FROM collection_issues").fetchone() == (0,)
    finally:
        con.close()
    # And the store is usable: the same file now loads whole.
    with Store.open(home) as store:
        again = Collector(store, home).collect(census, big)
        assert again.status == "loaded" and again.rows == 20_000
        assert store.one("SELECT count(*) FROM ds_census") == 20_050
