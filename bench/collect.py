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
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pupilshare import catalogue
from pupilshare.collect import Collector
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth.valid_returns import write_sample

RESULTS = Path(__file__).with_name("RESULTS.md")


def bare_read(path: Path, db: Path) -> tuple[float, float]:
    """Wall and CPU seconds for DuckDB alone to read the CSV into a table."""
    con = duckdb.connect(str(db))
    wall, cpu = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE census AS SELECT * FROM read_csv('{path}')")
    out = time.perf_counter() - wall, time.process_time() - cpu
    con.close()
    return out


def collect(path: Path, home: Home) -> tuple[float, float, str]:
    """Wall and CPU seconds for pupilshare to validate and load the same file."""
    with Store.open(home) as store:
        wall, cpu = time.perf_counter(), time.process_time()
        collector = Collector(store, home, label="bench")
        out = collector.collect(catalogue.dataset("census"), path)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    what = (
        f"{out.status}, {out.rows:,} rows, {out.errors} errors, {out.warnings} warnings"
    )
    return wall, cpu, what


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
            wall, cpu, what = collect(path, Home(root / f"home{n}").ensure())
            ours.append((wall, cpu))
        b, c = min(bare), min(ours)
        bc, cc = min(x[1] for x in bare), min(x[1] for x in ours)
        load = os.getloadavg()[0]
        print(f"bare read_csv : {b[0]:6.2f} s wall {bc:6.2f} s CPU")
        print(f"collect       : {c[0]:6.2f} s wall {cc:6.2f} s CPU  ({what})")
        print(
            f"ratio         : {c[0] / b[0]:6.2f}x wall {cc / bc:6.2f}x CPU (goal <= 2x)"
            f"; load average {load:.1f} on {os.cpu_count()} cores"
        )
    if args.record:
        cmd = "PYTHONPATH=src python bench/collect.py " + " ".join(sys.argv[1:])
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Benchmark results\n\nEach area appends its own "
                "section: the command, the machine, the numbers.\n"
            )
        with RESULTS.open("a") as f:
            f.write(
                f"\n### collect, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"`{cmd.strip()}` on {platform.machine()}, DuckDB "
                f"{duckdb.__version__}, {os.cpu_count()} cores, load average "
                f"{load:.1f}: {args.rows:,} census rows ({size:.0f} MB); bare "
                f"`read_csv` into a table {b[0]:.2f} s wall / {bc:.2f} s CPU, "
                f"`collect` {c[0]:.2f} s wall / {cc:.2f} s CPU ({what}); "
                f"**ratio {c[0] / b[0]:.2f}x wall, {cc / bc:.2f}x CPU** (goal <= 2x), "
                f"best of {args.repeat}.\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
