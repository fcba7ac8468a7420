"""Bench: the matching pipeline (exact passes, then Splink) against Splink alone.

One labelled nation (``pupilshare.match.sample``: a census year of three terms plus
key stage, NCMP, qualification and survey records, with typos, swapped dates, missing
UPNs) is matched twice in the same run with one model trained once: by ``run_match``
from an empty index (exact passes, then Splink for the rest), and by Splink alone
(every record's distinct person fields, predicted and clustered at the same upper
threshold). Times exclude the one training, which both share. Prints both times,
both F1s and the ratio; ``--record`` appends the result to ``bench/RESULTS.md``.

    PYTHONPATH=src python bench/match.py --pupils 100000 [--record]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa

from pupilshare.config import Home
from pupilshare.match.model import Model
from pupilshare.match.records import splink_input_sql, stage
from pupilshare.match.report import accuracy, pairwise
from pupilshare.match.run import match_settings, run_match
from pupilshare.match.sample import generate
from pupilshare.match.tables import ensure_tables
from pupilshare.store import Store

REF = date(2025, 6, 1)


def _profiles(store: Store) -> pa.Table:
    ensure_tables(store)
    stage(store)
    sql = "(SELECT 'r' || profile_id AS unique_id, * FROM match_profiles)"
    return store.arrow(splink_input_sql(sql))


def train(store: Store, model_path: Path) -> float:
    """Train once on every record's person fields; both contenders use the model."""
    started = time.perf_counter()
    model = Model(_profiles(store))
    model.train()
    model.save(model_path)
    model.close()
    _drop_staging(store)
    return time.perf_counter() - started


def _drop_staging(store: Store) -> None:
    store.execute("DROP TABLE IF EXISTS match_new")
    store.execute("DROP TABLE IF EXISTS match_profiles")


def splink_alone(store: Store, truth: Path, model_path: Path, threshold: float) -> dict:
    """Splink with no exact pass: predict, cluster, score. Timed."""
    started = time.perf_counter()
    model = Model(_profiles(store), model_path)
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
        FROM match_new n JOIN _clusters c ON c.unique_id = 'r' || n.profile_id
        WHERE n.usable""")
    seconds = time.perf_counter() - started
    store.unregister("_clusters")
    out = pairwise(store, truth, "alone_links")
    store.execute("DROP TABLE alone_links")
    _drop_staging(store)
    return {**out, "seconds": round(seconds, 1), "pairs": n_pairs}


class _Undo(Exception):
    """Raised to roll a trial run back."""


SWEEP = [(0.5, 0.8), (0.5, 0.9), (0.5, 0.95), (0.5, 0.99), (0.8, 0.95), (0.2, 0.95)]


def sweep(store: Store, home: Home, truth: Path) -> list[str]:
    """F1 and review volume of the pipeline at several (lower, upper) thresholds,
    each run from an empty index and rolled back."""
    lines = [
        "| lower | upper | precision | recall | F1 | review share |",
        "|---|---|---|---|---|---|",
    ]
    for lower, upper in SWEEP:
        over = {"lower_threshold": lower, "upper_threshold": upper}
        try:
            with store.transaction():
                run_match(store, home, reference_date=REF, overrides=over)
                a = accuracy(store, truth)
                raise _Undo
        except _Undo:
            pass
        lines.append(
            f"| {lower} | {upper} | {a['precision']:.5f} | "
            f"{a['recall']:.5f} | {a['f1']:.5f} | {a['review_share']:.3%} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pupils", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="also try other thresholds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home").ensure()
        nation = Path(tmp) / "nation"
        t0 = time.perf_counter()
        with Store.open(home) as store:
            sample = generate(
                store,
                args.pupils,
                seed=args.seed,
                census_terms=3,
                nation=nation,
                today=REF,
            )
            records = sum(sample.records.values())
            made = time.perf_counter() - t0
            settings = match_settings(home)
            model_path = home.root / settings["model"]
            trained = train(store, model_path)
            alone = splink_alone(
                store, nation / "truth.csv", model_path, settings["upper_threshold"]
            )
            table = sweep(store, home, nation / "truth.csv") if args.sweep else []
            started = time.perf_counter()
            result = run_match(store, home, reference_date=REF)
            ours = {
                **accuracy(store, nation / "truth.csv"),
                "seconds": round(time.perf_counter() - started, 1),
            }
    ratio = alone["seconds"] / ours["seconds"]
    lines = [
        f"nation: {args.pupils:,} pupils, {records:,} records "
        f"({', '.join(f'{k} {v:,}' for k, v in sample.records.items())}); "
        f"made in {made:.0f} s; model trained once in {trained:.1f} s "
        f"(u by sampling 2e6 pairs, m by EM) and used by both",
        f"pipeline (exact + Splink): {ours['seconds']:.1f} s, F1 {ours['f1']:.4f} "
        f"(precision {ours['precision']:.4f}, recall {ours['recall']:.4f}); "
        f"{result.exact:,} exact, {result.probabilistic:,} Splink, "
        f"{result.review:,} review items ({ours['review_share']:.3%} of records), "
        f"{result.unusable:,} unusable",
        f"Splink alone:              {alone['seconds']:.1f} s, F1 {alone['f1']:.4f} "
        f"(precision {alone['precision']:.4f}, recall {alone['recall']:.4f}); "
        f"{alone['pairs']:,} scored pairs",
        f"ratio: Splink alone takes {ratio:.1f}x the pipeline's time",
    ]
    lines += table
    print("\n".join(lines))
    if args.record:
        path = Path(__file__).with_name("RESULTS.md")
        flags = " --sweep" if args.sweep else ""
        cmd = f"PYTHONPATH=src python bench/match.py --pupils {args.pupils}{flags}"
        with path.open("a") as f:
            f.write(
                f"\n### match, {date.today()}, {args.pupils:,} pupils\n\n"
                f"`{cmd}` (2 cores, shared)\n\n"
                + "".join(f"- {line}\n" for line in lines if line[0] != "|")
                + ("\nThresholds (each from an empty index):\n\n" if table else "")
                + "".join(f"{line}\n" for line in table)
            )


if __name__ == "__main__":
    main()
