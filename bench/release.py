"""Release benchmark: a pseudonymised release and an area-level aggregate with full
disclosure control over N key stage records, against DuckDB's bare COPY of the same
columns to Parquet, measured in the same run.

    PYTHONPATH=src python bench/release.py [--rows 10000000] [--record]

Goals (issue 5): pseudonymised release within 2x of the bare COPY; the aggregate
table with full disclosure control under 2 s.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from pupilshare.config import Home
from pupilshare.release import aggregate, population, sample
from pupilshare.release.build import build_release
from pupilshare.release.plan import ReleasePlan, TableSpec
from pupilshare.store import Store

ITEMS = (
    "ks_results.academic_year",
    "ks_results.subject",
    "ks_results.outcome",
    "ks_results.scaled_score",
    "ks_results.la_code",
    "pupil.pupil_pseudonym",
)
COLUMNS = "academic_year, subject, outcome, scaled_score, substr(laestab, 1, 3)"


def make_store(store: Store, rows: int, per_pupil: int = 10) -> None:
    """``rows`` KS records of ``rows / per_pupil`` pupils over 150 LAs, made in SQL."""
    pupils = rows // per_pupil
    sample.make_world(store, pupils=1000)  # tables and reference rows; replaced below
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
    store.rows("DELETE FROM pupil_links")
    store.rows(
        "INSERT INTO pupil_links SELECT 'ks_results', 1, i + 2, "
        f"i // {per_pupil}, 'exact', 1.0, 1 FROM range({rows}) t(i)"
    )
    store.rows("CHECKPOINT")
    print(f"store: {rows:,} records, {pupils:,} pupils")


def timed(label: str, fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.2f} s")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
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
        bare = timed(
            "bare COPY of the same columns to Parquet",
            lambda: store.rows(
                f"COPY (SELECT {COLUMNS}, upn FROM ds_ks_results) TO '{out}' "
                "(FORMAT parquet)"
            ),
        )
        out.unlink()
        joined = timed(
            "COPY with the pupil-link join (no pseudonym)",
            lambda: store.rows(
                f"COPY (SELECT {COLUMNS}, l.pupil_key FROM ds_ks_results d JOIN "
                "pupil_links l ON l.dataset = 'ks_results' AND l.collection_id = "
                f"d.collection_id AND l.line = d.line) TO '{out}' (FORMAT parquet)"
            ),
        )
        pseudo = timed(
            "pseudonymised release, Parquet, checked and recorded",
            lambda: build_release(store, home, plan, root / "p", formats=("parquet",)),
        )
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
        view = population.eligible(store, agg, "ks_results")
        group = timed(
            "bare GROUP BY over the same link join (no SDC)",
            lambda: store.rows(
                "SELECT substr(d.laestab, 1, 3), d.sex, d.outcome, count(DISTINCT "
                "l.pupil_key) FROM ds_ks_results d JOIN pupil_links l ON l.dataset = "
                "'ks_results' AND l.collection_id = d.collection_id "
                "AND l.line = d.line GROUP BY ALL"
            ),
        )
        table = timed(
            "area aggregate (150 LAs x sex x expected) with full SDC",
            lambda: aggregate.build_table(store, spec, view, agg.sdc),
        )
        full = timed(
            "aggregate release end to end (tables, check, record)",
            lambda: build_release(store, home, agg, root / "a"),
        )
        store.close()
        lines = [
            f"\n## Releases ({date.today()}, {args.rows:,} rows)\n",
            f"`PYTHONPATH=src python bench/release.py --rows {args.rows}`\n",
            "| measure | seconds | ratio |",
            "|---|---|---|",
            f"| bare COPY of the same columns to Parquet (baseline) | {bare:.2f} "
            "| 1.00 |",
            f"| COPY with the pupil-link join | {joined:.2f} | {joined / bare:.2f} |",
            f"| pseudonymised release (Parquet, check, record) | {pseudo:.2f} | "
            f"{pseudo / bare:.2f} |",
            f"| bare GROUP BY over the link join (aggregate baseline) | {group:.2f} | "
            "1.00 |",
            f"| area aggregate with full SDC (goal < 2 s) | {table:.2f} | "
            f"{table / group:.2f} |",
            f"| aggregate release end to end | {full:.2f} | |",
        ]
        print("\n".join(lines))
        if args.record:
            with (Path(__file__).parent / "RESULTS.md").open("a") as f:
                f.write("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
