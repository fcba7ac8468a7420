"""Engine benchmark: the same pseudonymised and aggregate releases on DuckDB and on
Spark (local mode, this machine), with times and peak memory, at N pupils.

    PYTHONPATH=src python bench/engines.py --pupils 1000000 [--per-pupil 2] [--record]

The store is made once in DuckDB SQL (``bench/release.py``'s ``make_store``: key
stage records, the pupil index and the links); each engine then runs in its own
process, so its peak memory is its own: the resident high-water mark of the Python
process plus, on Spark, that of its JVM. DuckDB is the baseline; the ratio is Spark's
time over DuckDB's, measured in the same run. Matching is not measured: it does not
run on Spark yet (issue 16, point 1, what remains).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

HERE = Path(__file__).parent
MEASURES = ("pseudonymised release", "aggregate release")


def _release_bench():  # type: ignore[no-untyped-def]
    """``bench/release.py`` (its store maker and plans), loaded by path."""
    spec = importlib.util.spec_from_file_location("release_bench", HERE / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _plans():  # type: ignore[no-untyped-def]
    from pupilshare.plan import ReleasePlan, TableSpec

    items = _release_bench().ITEMS
    pseudo = ReleasePlan(
        "BENCH-P", "bench", "bench", "bench", "pseudonymised", items,
        reference_date=date(2025, 1, 1),
    )  # fmt: skip
    spec = TableSpec("by_la", "ks_results", ("la_code", "sex"), ("reached_expected",))
    agg = ReleasePlan(
        "BENCH-A", "bench", "bench", "bench", "aggregate",
        ("ks_results.la_code", "ks_results.sex", "ks_results.reached_expected"),
        tables=(spec,), reference_date=date(2025, 1, 1),
    )  # fmt: skip
    return pseudo, agg


def _peak_kib(pid: int | str = "self") -> int:
    """The resident high-water mark of a process (KiB), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker(engine: str, home_dir: Path, out: Path) -> dict:
    """Both releases on one engine; times, peak memory and file digests."""
    from pupilshare import engine as engines
    from pupilshare.config import Home
    from pupilshare.release import check
    from pupilshare.release.build import build_release

    # The bench's own plans have no agreement behind them: the output check's
    # question to governance is answered yes (as the tests marked ``own_plan``).
    check.governance_reasons = lambda home, plan: []

    home = Home(home_dir)
    pseudo, agg = _plans()
    result: dict = {"engine": engine, "seconds": {}}
    start = time.perf_counter()
    with engines.open_store(home, engine=engine) as store:
        result["seconds"]["open (Spark: start the session)"] = (
            time.perf_counter() - start
        )
        for name, plan in zip(MEASURES, (pseudo, agg), strict=True):
            plan = replace(plan, agreement_id=f"{plan.agreement_id}-{engine}")
            t = time.perf_counter()
            m = build_release(store, home, plan, out / name.split()[0], ("parquet",))
            result["seconds"][name] = time.perf_counter() - t
            result.setdefault("rows", {})[name] = m.row_count
        peak = _peak_kib()
        if engine == "spark":
            proc = store.spark.sparkContext._gateway.proc  # the JVM (local mode)
            peak += _peak_kib(proc.pid) if proc is not None else 0
    result["peak_mib"] = peak / 1024
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pupils", type=int, default=1_000_000)
    ap.add_argument("--per-pupil", type=int, default=2, help="KS records per pupil")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--home", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        home = Path(args.home)
        print(json.dumps(worker(args.worker, home, home / f"out-{args.worker}")))
        return
    from pupilshare.config import Home
    from pupilshare.store import Store

    root = Path(tempfile.mkdtemp(prefix="engines-bench-", dir=HERE))
    try:
        home = Home(root / "home").ensure()
        t = time.perf_counter()
        with Store.open(home) as store:
            _release_bench().make_store(
                store, args.pupils * args.per_pupil, args.per_pupil
            )
        made = time.perf_counter() - t
        results = {}
        for engine in ("duckdb", "spark"):
            run = subprocess.run(
                [sys.executable, __file__, "--worker", engine, "--home", home.root],
                capture_output=True,
                text=True,
                env={**os.environ, "PUPILSHARE_SPARK_MEMORY": "4g"},
            )
            if run.returncode:
                print(run.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{engine} run failed")
            results[engine] = json.loads(run.stdout.strip().splitlines()[-1])
            print(results[engine], flush=True)
        lines = _table(args, results, made)
        print("\n".join(lines))
        if args.record:
            with (HERE / "RESULTS.md").open("a") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _table(args: argparse.Namespace, results: dict, made: float) -> list[str]:
    duck, spark = results["duckdb"], results["spark"]
    rows = args.pupils * args.per_pupil
    lines = [
        f"\n### Engines at {args.pupils:,} pupils ({rows:,} KS records), "
        f"{date.today()}\n",
        f"`PYTHONPATH=src nice -n 5 python bench/engines.py --pupils {args.pupils} "
        f"--per-pupil {args.per_pupil}` (store made in DuckDB SQL in {made:.0f} s)\n",
        "| measure | DuckDB s | Spark s | Spark / DuckDB |",
        "|---|---|---|---|",
    ]
    for name in duck["seconds"]:
        d, s = duck["seconds"][name], spark["seconds"][name]
        lines.append(f"| {name} | {d:.2f} | {s:.2f} | {s / max(d, 1e-9):.1f}x |")
    lines.append(
        f"| peak memory, MiB (Spark: Python + JVM) | {duck['peak_mib']:.0f} | "
        f"{spark['peak_mib']:.0f} | {spark['peak_mib'] / duck['peak_mib']:.1f}x |"
    )
    return lines


if __name__ == "__main__":
    main()
