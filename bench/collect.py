"""Benchmark: collect a census file of N rows against DuckDB's bare read_csv of it.

    PYTHONPATH=src python bench/collect.py [--rows 1000000] [--record]

Generates one valid census return of ``--rows`` rows with DuckDB SQL
(``collect.sample``, no dependency on the synthetic nation), then times, in the same
run and on the same warm file, (a) DuckDB reading it with ``read_csv`` into a table and
(b) ``Collector.collect`` validating and loading it into a fresh store. Prints the
ratio; ``--record`` appends it to ``bench/RESULTS.md`` with the command. Goal: <= 2x.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pupilshare import catalogue
from pupilshare.collect import Collector
from pupilshare.collect.sample import write_sample
from pupilshare.config import Home
from pupilshare.store import Store

RESULTS = Path(__file__).with_name("RESULTS.md")


def bare_read(path: Path, db: Path) -> float:
    """Seconds for DuckDB alone to read the CSV into a table (its own best guess)."""
    con = duckdb.connect(str(db))
    started = time.perf_counter()
    con.execute(f"CREATE TABLE census AS SELECT * FROM read_csv('{path}')")
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def collect(path: Path, home: Home) -> tuple[float, str]:
    """Seconds for pupilshare to validate and load the same file."""
    with Store.open(home) as store:
        started = time.perf_counter()
        collector = Collector(store, home, label="bench")
        out = collector.collect(catalogue.dataset("census"), path)
        seconds = time.perf_counter() - started
    return seconds, f"{out.status}, {out.rows:,} rows, {out.errors} errors"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "census.csv"
        started = time.perf_counter()
        with Store() as gen:
            write_sample(gen, catalogue.dataset("census"), path, args.rows)
        made = time.perf_counter() - started
        size = path.stat().st_size / 1e6
        print(f"generated {args.rows:,} census rows ({size:.0f} MB) in {made:.1f} s")
        bare, ours, what = [], [], ""
        for n in range(args.repeat):
            bare.append(bare_read(path, root / f"bare{n}.duckdb"))
            seconds, what = collect(path, Home(root / f"home{n}").ensure())
            ours.append(seconds)
        b, c = min(bare), min(ours)
        print(f"bare read_csv : {b:6.2f} s")
        print(f"collect       : {c:6.2f} s  ({what})")
        print(f"ratio         : {c / b:6.2f}x  (goal <= 2x)")
    if args.record:
        cmd = "PYTHONPATH=src python bench/collect.py " + " ".join(sys.argv[1:])
        with RESULTS.open("a") as f:
            f.write(
                f"\n### collect, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"`{cmd.strip()}` on {platform.machine()}, DuckDB "
                f"{duckdb.__version__}: {args.rows:,} census rows ({size:.0f} MB); "
                f"bare `read_csv` into a table {b:.2f} s, `collect` {c:.2f} s "
                f"({what}); **ratio {c / b:.2f}x** (goal <= 2x), best of "
                f"{args.repeat}.\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
