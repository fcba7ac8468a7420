"""Release benchmark: a pseudonymised release and an area-level aggregate with full
disclosure control over N key stage records, against DuckDB's bare COPY of the same
columns to Parquet, measured in the same run.

    PYTHONPATH=src python bench/release.py [--rows 10000000] [--repeat 3] [--record]

Goals (issue 5): pseudonymised release within 2x of the bare COPY; the aggregate
table with full disclosure control under 2 s.

Each measure runs ``--repeat`` times, the measures interleaved, and the best time is
kept: on a shared 2-core machine a single run swings by 2x with other load, and the
best of several is the usual estimate of what the code itself costs. Process CPU time
(all threads) is printed beside wall time; it moves less with load.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from pupilshare.config import Home
from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release import aggregate, check, population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world

# The bench's own plans have no agreement behind them: the output check's question
# to governance is answered yes (as the tests marked ``own_plan``).
check.governance_reasons = lambda home, plan: []

ITEMS = (
    "ks_results.academic_year",
    "ks_results.subject",
    "ks_results.outcome",
    "ks_results.scaled_score",
    "ks_results.la_code",
    "pupil.pupil_pseudonym",
)
COLUMNS = "academic_year, subject, outcome, scaled_score, substr(laestab, 1, 3)"


BARE = "bare COPY of the same columns to Parquet"
JOINED = "COPY with the pupil-link join (no pseudonym)"
PSEUDO = "pseudonymised release, Parquet, checked and recorded"
GROUP = "bare GROUP BY over the same link join (no SDC)"
TABLE = "area aggregate (150 LAs x sex x expected) with full SDC"
FULL = "aggregate release end to end (tables, check, record)"


def make_store(store: Store, rows: int, per_pupil: int = 10) -> None:
    """``rows`` KS records of ``rows / per_pupil`` pupils over 150 LAs, made in SQL."""
    pupils = rows // per_pupil
    # the tables and reference rows; the records are replaced below
    linked_world.make_world(store, pupils=1000)
    store.rows("DELETE FROM ds_ks_results")
    store.rows(
        "INSERT INTO ds_ks_results (collection_id, line, academic_year, "
        "assessment_date, laestab, upn, forename, surname, date_of_birth, sex, "
        "key_stage, subject, outcome, scaled_score) "
        f"SELECT 1, i + 2, 2018 + i % 6, DATE '2024-05-15', "
        f"CAST(300 + (i // {per_pupil}) % 150 AS VARCHAR) || '2000', "
        f"'U' || (i // {per_pupil}), 'F', 'S', DATE '2013-01-01', "
        "CASE WHEN hash(i // 10) % 2 = 0 THEN 'M' ELSE 'F' END, '2', "
        "['READ', 'MATH', 'WRIT', 'GPS', 'SCI'][1 + i % 5], "
        "CASE WHEN hash(i) % 10 < 7 THEN 'AS' ELSE 'NS' END, "
        f"CAST(80 + hash(i) % 41 AS INTEGER) FROM range({rows}) t(i)"
    )
    store.rows(
        "CREATE OR REPLACE TABLE pupils AS SELECT i AS pupil_key, 'U' || i AS upn, "
        "NULL AS uln, 'F' AS forename, 'S' AS surname, DATE '2013-01-01' AS "
        f"date_of_birth, 'M' AS sex, NULL AS postcode, 1 AS created_run "
        f"FROM range({pupils}) t(i)"
    )
    store.rows("DELETE FROM pupil_links")
    store.rows(
        "INSERT INTO pupil_links SELECT 'ks_results', 1, i + 2, "
        f"i // {per_pupil}, 'exact', 1.0, 1 FROM range({rows}) t(i)"
    )
    store.rows("CHECKPOINT")
    print(f"store: {rows:,} records, {pupils:,} pupils")


class Timer:
    """Best wall and CPU seconds per measure over the rounds."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, label: str, fn) -> None:  # type: ignore[no-untyped-def]
        cpu, start = time.process_time(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"  {label}: {wall:.2f} s wall, {cpu:.2f} s CPU")
        self.wall[label] = min(wall, self.wall.get(label, wall))
        self.cpu[label] = min(cpu, self.cpu.get(label, cpu))

    def row(self, label: str, name: str, base: str) -> str:
        w, c = self.wall[name], self.cpu[name]
        return (
            f"| {label} | {w:.2f} | {w / self.wall[base]:.2f} | {c:.2f} | "
            f"{c / self.cpu[base]:.2f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    ap.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="release-bench-", dir=Path(__file__).parent))
    try:
        home = Home(root / "home").ensure()
        store = Store.open(home)
        make_store(store, args.rows)
        plan = ReleasePlan(
            "BENCH-P",
            "bench",
            "bench",
            "bench",
            "pseudonymised",
            ITEMS,
            reference_date=date(2025, 1, 1),
        )
        out = root / "copy.parquet"
        spec = TableSpec(
            "by_la", "ks_results", ("la_code", "sex"), ("reached_expected",)
        )
        agg = ReleasePlan(
            "BENCH-A",
            "bench",
            "bench",
            "bench",
            "aggregate",
            ("ks_results.la_code", "ks_results.sex", "ks_results.reached_expected"),
            tables=(spec,),
            reference_date=date(2025, 1, 1),
        )
        timed = Timer()
        for n in range(args.repeat):
            print(f"round {n + 1} of {args.repeat}")
            timed(
                BARE,
                lambda: store.rows(
                    f"COPY (SELECT {COLUMNS}, upn FROM ds_ks_results) TO '{out}' "
                    "(FORMAT parquet)"
                ),
            )
            timed(
                JOINED,
                lambda: store.rows(
                    f"COPY (SELECT {COLUMNS}, l.pupil_key FROM ds_ks_results d JOIN "
                    "pupil_links l ON l.dataset = 'ks_results' AND l.collection_id = "
                    f"d.collection_id AND l.line = d.line) TO '{out}' (FORMAT parquet)"
                ),
            )
            timed(
                PSEUDO,
                lambda n=n: build_release(
                    store, home, plan, root / f"p{n}", formats=("parquet",)
                ),
            )
            timed(
                GROUP,
                lambda: store.rows(
                    "SELECT substr(d.laestab, 1, 3), d.sex, d.outcome, count(DISTINCT "
                    "l.pupil_key) FROM ds_ks_results d JOIN pupil_links l "
                    "ON l.dataset = "
                    "'ks_results' AND l.collection_id = d.collection_id "
                    "AND l.line = d.line GROUP BY ALL"
                ),
            )
            view = population.eligible(store, agg, "ks_results")
            timed(TABLE, lambda v=view: aggregate.build_table(store, spec, v, agg.sdc))
            timed(FULL, lambda n=n: build_release(store, home, agg, root / f"a{n}"))
        store.close()
        lines = [
            f"\n## Releases ({date.today()}, {args.rows:,} rows)\n",
            f"`PYTHONPATH=src python bench/release.py --rows {args.rows} --repeat "
            f"{args.repeat}` (best of {args.repeat} rounds)\n",
            "| measure | wall s | ratio | CPU s | CPU ratio |",
            "|---|---|---|---|---|",
            timed.row(f"{BARE} (baseline)", BARE, BARE),
            timed.row("COPY with the pupil-link join", JOINED, BARE),
            timed.row(
                "pseudonymised release, goal within 2x (Parquet, check, record)",
                PSEUDO,
                BARE,
            ),
            timed.row(
                "bare GROUP BY over the link join (aggregate baseline)", GROUP, GROUP
            ),
            timed.row(
                "area aggregate with full SDC (goal under 2 s wall)", TABLE, GROUP
            ),
            timed.row("aggregate release end to end", FULL, GROUP),
        ]
        print("\n".join(lines))
        if args.record:
            with (Path(__file__).parent / "RESULTS.md").open("a") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
