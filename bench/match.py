"""Bench: a census year matched into the index, against Splink alone on it.

A synthetic nation (``pupilshare synth``) is collected; every file but the last
academic year's census returns is matched first, building the index and training the
model. Then the last census year is collected and, in the same run:

- Splink alone (no exact pass): the same trained model predicts over the year's
  distinct person fields and clusters at the same upper threshold;
- the pipeline (``run_match``): exact passes, then Splink for the rest, into the
  existing index.

Both are timed and scored (pairwise F1 on the census-year records, against
``truth.csv``); ``--record`` appends the result to ``bench/RESULTS.md``.

    PYTHONPATH=src python -m pupilshare synth --pupils 100000 --years 2 --out N
    PYTHONPATH=src python bench/match.py --nation N [--record]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from pupilshare import catalogue
from pupilshare.collect import Collector
from pupilshare.config import Home
from pupilshare.match.model import Model
from pupilshare.match.records import splink_input_sql, stage
from pupilshare.match.report import accuracy, pairwise, resolved_links_sql
from pupilshare.match.run import run_match
from pupilshare.match.settings import match_settings
from pupilshare.store import Store


def files(nation: Path) -> tuple[list, list]:
    """(every file but the last census year, the last census year's returns)."""
    manifest = json.loads((nation / "manifest.json").read_text())
    last = manifest["first_year"] + manifest["years"] - 1
    ref = [
        (catalogue.dataset(n), nation / "reference" / f"{n}.csv")
        for n in ("postcodes", "schools")
    ]
    before, year = list(ref), []
    for ds in catalogue.pupil_datasets():
        for p in sorted((nation / ds.name).glob("*.csv")):
            is_year = ds.name == "census" and p.name.startswith(f"census_{last}_")
            (year if is_year else before).append((ds, p))
    return before, year


def collect(store: Store, home: Home, nation: Path, todo: list) -> list[int]:
    """Collect files as the demo does; the new collection ids."""
    c = Collector(store, home, label="bench")  # creates the collection tables
    first = store.rows("SELECT coalesce(max(collection_id), 0) FROM collections")
    # files in batches, a dataset at a time, as ``pupilshare collect`` does
    by_ds: dict[str, tuple] = {}
    for ds, path in todo:
        by_ds.setdefault(ds.name, (ds, []))[1].append(
            (path, str(path.relative_to(nation)))
        )
    for ds, paths in by_ds.values():
        c.collect_all(ds, paths)
    c.finish()
    return [
        r[0]
        for r in store.rows(
            "SELECT collection_id FROM collections WHERE collection_id > ?", first[0]
        )
    ]


def splink_alone(store: Store, model_path: Path, threshold: float) -> dict:
    """The unlinked records by Splink alone: predict, cluster. Timed."""
    started = time.perf_counter()
    stage(store)
    # one row per record, as Splink alone would be given them (the pipeline instead
    # collapses records with identical person fields into one profile)
    sql = (
        "(SELECT dataset || ':' || collection_id || ':' || line AS unique_id, * "
        "FROM match_new WHERE usable)"
    )
    model = Model(store.arrow(splink_input_sql(sql)), model_path)
    model.tf_tables()
    linker = model.linker
    pairs = linker.inference.predict(
        threshold_match_probability=threshold, warning_mode="never"
    )
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pairs, threshold
    )
    table = model.con.sql(
        f"SELECT unique_id, cluster_id FROM {clusters.physical_name}"
    ).to_arrow_table()
    n_pairs = model.con.execute(f"SELECT count(*) FROM {pairs.physical_name}")
    n_pairs = n_pairs.fetchall()[0][0]
    model.close()
    store.register("_clusters", table)
    store.execute("""
        CREATE OR REPLACE TEMP TABLE alone_links AS
        SELECT n.dataset, n.collection_id, n.line, hash(c.cluster_id) AS pupil_key
        FROM match_new n JOIN _clusters c
            ON c.unique_id = n.dataset || ':' || n.collection_id || ':' || n.line
        WHERE n.usable""")
    seconds = time.perf_counter() - started
    store.unregister("_clusters")
    store.execute("DROP TABLE match_new")
    store.execute("DROP TABLE match_profiles")
    return {"seconds": seconds, "pairs": n_pairs}


# The store's share of memory; Splink's own connection takes 40% (match/model.py).
STORE_MEMORY = "9GB"


class _Undo(Exception):
    """Raised to roll a trial run back."""


SWEEP = [
    (0.5, 0.8),
    (0.5, 0.9),
    (0.5, 0.95),
    (0.5, 0.99),
    (0.5, 0.999),
    (0.2, 0.95),
    (0.8, 0.95),
]


def sweep(
    store: Store, home: Home, truth: Path, points: list[tuple[float, float]] = SWEEP
) -> list[str]:
    """Accuracy and review volume at several (lower, upper) thresholds, each a full
    match of the collected records, rolled back afterwards."""
    lines = [
        "| lower | upper | precision | recall | F1 | review share |",
        "|---|---|---|---|---|---|",
    ]
    for lower, upper in points:
        over = {"lower_threshold": lower, "upper_threshold": upper}
        try:
            with store.transaction():
                run_match(store, home, reference_date=date(2025, 6, 1), overrides=over)
                a = accuracy(store, truth)
                raise _Undo
        except _Undo:
            pass
        lines.append(
            f"| {lower} | {upper} | {a['precision']:.6f} | "
            f"{a['recall']:.6f} | {a['f1']:.6f} | {a['review_share']:.3%} |"
        )
    return lines


def prepare(
    cache: Path, nation: Path, truth: Path, points: list[tuple[float, float]]
) -> dict:
    """A home with every file but the last census year collected and matched (the
    index and a trained model), built once in ``cache`` and reused by later runs:
    only the census year's match is measured."""
    done = cache / "indexed.json"
    if done.exists():
        return json.loads(done.read_text())
    before, _ = files(nation)
    home = Home(cache / "home").ensure()
    with Store.open(home) as store:
        store.execute(f"SET memory_limit = '{STORE_MEMORY}'")
        t = time.perf_counter()
        collect(store, home, nation, before)
        collected = time.perf_counter() - t
        table = sweep(store, home, truth, points) if points else []
        t = time.perf_counter()
        first = run_match(store, home, reference_date=date(2025, 6, 1))
        indexed = time.perf_counter() - t
    info = {
        "collected": collected,
        "indexed": indexed,
        "records": first.records,
        "pupils": first.pupils,
        "sweep": table,
    }
    done.write_text(json.dumps(info))
    return info


def measure(home: Home, nation: Path, truth: Path) -> dict:
    """The census year: collected, then Splink alone and the pipeline, each scored."""
    _, year = files(nation)
    with Store.open(home) as store:
        store.execute(f"SET memory_limit = '{STORE_MEMORY}'")
        ids = collect(store, home, nation, year)
        year_rows = store.rows(
            "SELECT count(*) FROM ds_census WHERE collection_id >= ?", [min(ids)]
        )[0][0]
        s = match_settings(home)
        alone = splink_alone(store, home.root / s["model"], s["upper_threshold"])
        alone.update(pairwise(store, truth, "alone_links"))
        t = time.perf_counter()
        ours = run_match(store, home, reference_date=date(2025, 6, 1))
        ours_s = time.perf_counter() - t
        store.execute(resolved_links_sql(str(truth), "pupil_links", "resolved_links"))
        for name, links in (
            ("year_links", "pupil_links"),
            ("year_resolved", "resolved_links"),
        ):
            store.execute(f"""CREATE TEMP VIEW {name} AS SELECT * FROM {links}
                WHERE collection_id >= {min(ids)}""")
        return {
            "year_rows": year_rows,
            "alone": alone,
            "ours": ours,
            "ours_s": ours_s,
            "mine": pairwise(store, truth, "year_links"),
            "resolved": pairwise(store, truth, "year_resolved"),
            "pending": store.one(
                "SELECT count(*) FROM match_review WHERE status = 'pending'"
            ),
            "whole": pairwise(store, truth),
            "whole_resolved": pairwise(store, truth, "resolved_links"),
            "merged": store.one("SELECT count(*) FROM pupil_merges"),
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nation", type=Path, required=True)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="try other thresholds first")
    ap.add_argument(
        "--points",
        help="the sweep's (lower:upper) points, comma-separated (default: all of "
        "SWEEP; each is a whole match of the earlier files)",
    )
    ap.add_argument(
        "--cache",
        type=Path,
        help="keep the indexed home here and reuse it (outside the repository)",
    )
    ap.add_argument(
        "--keep",
        type=Path,
        help="keep the measured home here, to list its errors against the truth",
    )
    args = ap.parse_args()
    nation = args.nation.resolve()
    truth = nation / "truth.csv"
    pupils = json.loads((nation / "manifest.json").read_text())["pupils"]
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp) / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        points = (
            [tuple(map(float, p.split(":"))) for p in args.points.split(",")]
            if args.points
            else SWEEP
        )
        info = prepare(cache, nation, truth, points if args.sweep else [])
        home = Home(args.keep or Path(tmp) / "home")
        shutil.copytree(cache / "home", home.root)
        r = measure(home.ensure(), nation, truth)
    alone, ours, mine, res = r["alone"], r["ours"], r["mine"], r["resolved"]
    ours_s, whole, table = r["ours_s"], r["whole"], info["sweep"]
    lines = [
        f"nation: {pupils:,} pupils ({nation.name}); earlier files collected in "
        f"{info['collected']:.0f} s and matched in {info['indexed']:.0f} s "
        f"({info['records']:,} records, {info['pupils']:,} pupils, model trained); "
        f"census year: {r['year_rows']:,} records",
        f"pipeline (exact + Splink, into the index): {ours_s:.1f} s, F1 "
        f"{mine['f1']:.5f} (precision {mine['precision']:.5f}, recall "
        f"{mine['recall']:.5f}); {ours.exact:,} exact, {ours.probabilistic:,} "
        f"Splink, {ours.new_pupils:,} new pupils, {ours.review:,} to review",
        f"pipeline with its {r['pending']:,} pending review items decided by the "
        f"truth (as a clerk would): F1 {res['f1']:.5f} (precision "
        f"{res['precision']:.5f}, recall {res['recall']:.5f})",
        f"Splink alone (same model, the year's records): {alone['seconds']:.1f} s, "
        f"F1 "
        f"{alone['f1']:.5f} (precision {alone['precision']:.5f}, recall "
        f"{alone['recall']:.5f}); {alone['pairs']:,} scored pairs",
        f"ratio: Splink alone takes {alone['seconds'] / ours_s:.1f}x the pipeline",
        f"whole index after both runs: F1 {whole['f1']:.5f} (precision "
        f"{whole['precision']:.5f}, recall {whole['recall']:.5f}) over "
        f"{whole['records']:,} records; with the pending review items decided by "
        f"the truth: F1 {r['whole_resolved']['f1']:.5f} (recall "
        f"{r['whole_resolved']['recall']:.5f}); {r['merged']:,} pupils merged by "
        "match runs (a permanent UPN naming another pupil's UPN as former UPN)",
    ]
    print("\n".join(lines + table))
    if args.record:
        path = Path(__file__).with_name("RESULTS.md")
        with path.open("a") as f:
            f.write(
                f"\n### match, {date.today()}, {pupils:,} pupils\n\n"
                f"`PYTHONPATH=src python bench/match.py --nation N` after "
                f"`pupilshare synth --pupils {pupils} --years 2 --out N`\n\n"
                + "".join(f"- {line}\n" for line in lines)
                + (
                    "\nThresholds (earlier files, matched from an empty index):\n\n"
                    if table
                    else ""
                )
                + "".join(f"{line}\n" for line in table)
            )


if __name__ == "__main__":
    main()
