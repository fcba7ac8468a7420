"""Benchmark: synthesise a nation, against DuckDB's bare copy of the files it wrote.

    PYTHONPATH=src python bench/synth.py [--pupils 1000000] [--seed 7] [--record]

Times ``synthesise`` (people in numpy, rows and faults in DuckDB, files from Arrow)
stage by stage, then, in the same run, DuckDB alone reading every file it wrote and
writing each dataset back as one CSV (the bare cost of the same bytes). Prints the
ratio; ``--record`` appends it to ``bench/RESULTS.md`` with the command. Set
``PUPILSHARE_SYNTH_MEMORY`` (default 6GB) to bound DuckDB's memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pupilshare.synth import DATASETS, synthesise

RESULTS = Path(__file__).with_name("RESULTS.md")


def bare_copy(nation: Path, scratch: Path) -> float:
    """Seconds for DuckDB to read every pupil file and write one CSV per dataset."""
    con = duckdb.connect()
    started = time.perf_counter()
    for ds in DATASETS:
        con.execute(
            f"COPY (SELECT * FROM read_csv('{nation}/{ds}/*.csv', all_varchar = true,"
            f" union_by_name = false)) TO '{scratch}/{ds}.csv' (FORMAT csv, HEADER)"
        )
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def _cpu() -> float:
    """CPU seconds of this process: on a shared machine, wall time alone misleads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    # A kill (e.g. by a memory watchdog) still removes the temporary nation.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stages: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def on(stage: str, done: int, total: int) -> None:
        if stage != last[1]:
            now = time.perf_counter()
            if last[1]:
                stages[str(last[1])] = now - float(last[0])
            last[:] = [now, stage]

    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        started, cpu0 = time.perf_counter(), _cpu()
        manifest = synthesise(root / "nation", args.pupils, args.seed, progress=on)
        total, cpu = time.perf_counter() - started, _cpu() - cpu0
        files = len(manifest["files"])
        rows = sum(d["rows"] for d in manifest["datasets"].values())
        size = sum(p.stat().st_size for p in (root / "nation").rglob("*.csv")) / 1e6
        (root / "bare").mkdir()
        bare = bare_copy(root / "nation", root / "bare")
        shutil.rmtree(root / "nation")
    for name, seconds in stages.items():
        print(f"  {name:<20} {seconds:7.1f} s")
    print(
        f"synthesise : {total:7.1f} s  ({cpu:.0f} s CPU) {args.pupils:,} pupils, "
        f"{files:,} files, {rows:,} rows, {size:,.0f} MB"
    )
    print(f"bare copy  : {bare:7.1f} s  (DuckDB read_csv + COPY of the same files)")
    print(f"ratio      : {total / bare:7.2f}x")
    if args.record:
        cmd = "PYTHONPATH=src python bench/synth.py " + " ".join(sys.argv[1:])
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in stages.items())
        with RESULTS.open("a") as f:
            f.write(
                f"\n### synth, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"`{cmd.strip()}` on {platform.machine()} ({os.cpu_count()} cores, "
                f"shared), DuckDB {duckdb.__version__}: {args.pupils:,} pupils, "
                f"{files:,} files, {rows:,} rows ({size:,.0f} MB) in **{total:.0f} s** "
                f"wall, {cpu:.0f} s CPU "
                f"({steps}). DuckDB's bare read and rewrite of the same files "
                f"{bare:.0f} s: **ratio {total / bare:.2f}x**.\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
