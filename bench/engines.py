"""Engine benchmark: the same match and the same pseudonymised and aggregate releases
on DuckDB and on Spark (local mode, this machine), with times and peak memory.

    PYTHONPATH=src python bench/engines.py --pupils 1000000 [--per-pupil 2]
        [--match-pupils 20000] [--record]

The store is made once in DuckDB SQL (``bench/release.py``'s ``make_store``: key
stage records, the pupil index and the links); each engine then runs in its own
process, so its peak memory is its own: the resident high-water mark of the Python
process plus, on Spark, that of its JVM. DuckDB is the baseline; the ratio is Spark's
time over DuckDB's, measured in the same run.

The match is measured on its own labelled nation (``--match-pupils``, made by
``synth.labelled_records``, every record unmatched): each engine matches a copy with
the shipped model (training samples at random, differently on each engine), and the
two pupil indexes must be identical. 0 skips the match.
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
MATCH = "match (Splink with the shipped model, exact passes, into the index)"
INDEX_SQL = (
    "SELECT count(*), sum(hash(pupil_key, dataset, collection_id, line)) "
    "FROM pupil_links",
    "SELECT count(*), sum(hash(pupil_key, upn, uln, forename, surname, "
    "date_of_birth, sex, postcode)) FROM pupils",
)


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


def _match(engine: str, nation: Path, result: dict) -> None:
    """Match a copy of the labelled nation on ``engine``: time and index digest."""
    from pupilshare.config import Home
    from pupilshare.match import run_match
    from pupilshare.store import Store

    home_dir = nation.parent / f"match-{engine}"
    shutil.copytree(nation, home_dir)
    home = Home(home_dir)
    os.environ["PUPILSHARE_ENGINE"] = engine
    t = time.perf_counter()
    with Store.open(home) as store:
        r = run_match(store, home, reference_date=date(2025, 6, 1))
        result["seconds"][MATCH] = time.perf_counter() - t
        result["index"] = [list(store.rows(q)[0]) for q in INDEX_SQL]
    result["match"] = {
        "records": r.records,
        "pupils": r.pupils,
        "splink": r.probabilistic,
    }


def worker(engine: str, home_dir: Path, out: Path, nation: Path | None) -> dict:
    """The match and both releases on one engine; times, peak memory."""
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
    if engine == "spark":
        from pupilshare.engine.session import session

        session()
    result["seconds"]["start the engine (Spark: its session)"] = (
        time.perf_counter() - start
    )
    if nation is not None:
        _match(engine, nation, result)
    start = time.perf_counter()
    with engines.open_store(home, engine=engine) as store:
        result["seconds"]["open the store"] = time.perf_counter() - start
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
    ap.add_argument(
        "--match-pupils", type=int, default=20_000, help="labelled nation to match"
    )
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--home", help=argparse.SUPPRESS)
    ap.add_argument("--nation", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.load = os.getloadavg()
    if args.worker:
        home = Path(args.home)
        nation = Path(args.nation) if args.nation else None
        out = home / f"out-{args.worker}"
        print(json.dumps(worker(args.worker, home, out, nation)))
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
        nation = _nation(root, args.match_pupils) if args.match_pupils else None
        results = {}
        for engine in ("duckdb", "spark"):
            extra = ["--nation", str(nation)] if nation else []
            run = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    engine,
                    "--home",
                    home.root,
                    *extra,
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "PUPILSHARE_SPARK_MEMORY": "4g"},
            )
            if run.returncode:
                print(run.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"{engine} run failed")
            results[engine] = json.loads(run.stdout.strip().splitlines()[-1])
            print(results[engine], flush=True)
        if nation and results["duckdb"]["index"] != results["spark"]["index"]:
            raise SystemExit("the engines' pupil indexes differ")
        lines = _table(args, results, made)
        print("\n".join(lines))
        if args.record:
            with (HERE / "RESULTS.md").open("a") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _nation(root: Path, pupils: int) -> Path:
    """A labelled nation, nothing matched, with the shipped model in its home."""
    from pupilshare.config import Home
    from pupilshare.match.model import DEFAULT_MODEL
    from pupilshare.store import Store
    from pupilshare.synth.labelled_records import generate

    home = Home(root / "nation").ensure()
    with Store.open(home) as store:
        generate(store, pupils, seed=3, nation=home.root / "nation")
    shutil.copyfile(DEFAULT_MODEL, home.root / "match-model.json")
    return home.root


def _command() -> str:
    """The command this run was started with, niceness included, as recorded."""
    nice = os.nice(0)
    prefix = f"nice -n {nice} " if nice else ""
    args = " ".join(sys.argv[1:])
    return f"{prefix}env PYTHONPATH=src python bench/engines.py {args}"


def _commit() -> str:
    """The commit measured (with ``+`` when the checkout has changes)."""
    run = subprocess.run(
        ["git", "describe", "--always", "--dirty=+"],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    return run.stdout.strip() or "an unknown commit"


def _table(args: argparse.Namespace, results: dict, made: float) -> list[str]:
    duck, spark = results["duckdb"], results["spark"]
    rows = args.pupils * args.per_pupil
    matched = (
        f"; match: a labelled nation of {args.match_pupils:,} pupils "
        f"({duck['match']['records']:,} records, {duck['match']['splink']:,} joined "
        f"by Splink), the same pupil index on both engines"
        if "match" in duck
        else ""
    )
    lines = [
        f"\n### Engines at {args.pupils:,} pupils ({rows:,} KS records), "
        f"{date.today()}\n",
        f"`{_command()}` at {_commit()} (store "
        f"made in DuckDB SQL in {made:.0f} s{matched}; load average before: "
        f"{' '.join(f'{x:.1f}' for x in args.load)})\n",
        "| measure | DuckDB s | Spark s | Spark / DuckDB |",
        "|---|---|---|---|",
    ]
    for name in duck["seconds"]:
        d, s = duck["seconds"][name], spark["seconds"][name]
        # a ratio over a baseline of (next to) nothing says nothing
        ratio = f"{s / d:.1f}x" if d >= 0.05 else ""
        lines.append(f"| {name} | {d:.2f} | {s:.2f} | {ratio} |")
    lines.append(
        f"| peak memory, MiB (Spark: Python + JVM) | {duck['peak_mib']:.0f} | "
        f"{spark['peak_mib']:.0f} | {spark['peak_mib'] / duck['peak_mib']:.1f}x |"
    )
    return lines


if __name__ == "__main__":
    main()
