"""One match run: every record not yet linked, through the passes, in one transaction.

Order: stage the new records; report the unusable; exact passes against the index
(UPN, former UPN, ULN), then new pupils for identifiers the index has not seen; Splink
for what is left; links; ULN issue. A run killed anywhere leaves the store as before.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pupilshare.config import Home
from pupilshare.match import exact, index, merge, records
from pupilshare.match.probabilistic import (
    Thresholds,
    decide,
    score,
)
from pupilshare.match.records import splink_input_sql
from pupilshare.match.settings import match_settings
from pupilshare.match.tables import ensure_tables
from pupilshare.match.uln import issue_ulns
from pupilshare.store import Store

# Fewer records than this and EM has too few pairs to estimate from: use the model
# shipped with pupilshare (trained on a sample nation) until there is enough.
MIN_TRAIN = 1_000


@dataclass(frozen=True)
class MatchResult:
    run: int
    records: int
    exact: int
    probabilistic: int
    new_pupils: int
    merged: int
    review: int
    unusable: int
    ulns_issued: int
    pupils: int
    retrained: bool
    seconds: float
    charts: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(store: Store, where: str) -> int:
    return int(
        store.one(f"SELECT coalesce(sum(records), 0) FROM match_profiles WHERE {where}")
    )


def run_match(
    store: Store,
    home: Home,
    *,
    retrain: bool = False,
    reference_date: date | None = None,
    overrides: dict[str, Any] | None = None,
) -> MatchResult:
    """Match every record not yet linked into the pupil index."""
    s = {**match_settings(home), **(overrides or {})}
    ref = reference_date or s["reference_date"]
    t = Thresholds(s["upper_threshold"], s["lower_threshold"])
    model_path = home.root / s["model"]
    started = time.perf_counter()
    ensure_tables(store)
    charts: list[str] = []
    retrained = False
    with store.transaction():
        run = int(store.one("SELECT coalesce(max(match_run), 0) + 1 FROM match_runs"))
        store.execute(
            "INSERT INTO match_runs (match_run, started_at) VALUES (?, now())", [run]
        )
        before = int(store.one("SELECT count(*) FROM pupils"))
        n_records, _ = records.stage(store)
        store.execute(index.unusable_sql(run, records.UNUSABLE_REASON))
        for name in ("upn", "former_upn", "uln"):
            store.execute(exact.match_index_sql(name))
        store.execute(exact.temporary_upn_sql())
        # Identifiers the index has not seen group their profiles; the groups then
        # meet the index through Splink, as a pupil the index knows only from
        # records without a UPN gets its first census record.
        store.execute(
            "CREATE OR REPLACE TEMP TABLE match_groups AS "
            f"{exact.groups_sql('upn')} UNION ALL {exact.groups_sql('uln')}"
        )
        store.execute(f"INSERT INTO match_groups {exact.temporary_groups_sql()}")
        left = store.one("SELECT count(*) FROM match_profiles WHERE pupil_key IS NULL")
        if left or retrain:
            retrained, charts = _probabilistic(
                store, home, model_path, t, run, retrain, bool(left)
            )
        index.apply(store, run)
        store.execute(index.links_sql(run))
        store.execute(index.history_sql(run))
        merged = merge.merge_same_pupils(store, run)
        store.execute(index.refresh_pupils_sql())
        ulns = issue_ulns(store, run, ref)
        result = MatchResult(
            run=run,
            records=n_records,
            exact=_count(store, "method LIKE 'exact%'"),
            probabilistic=_count(store, "method = 'splink'"),
            new_pupils=int(store.one("SELECT count(*) FROM pupils")) - before + merged,
            merged=merged,
            review=int(
                store.one(
                    "SELECT count(*) FROM match_review WHERE match_run = ?",
                    [run],
                )
            ),
            unusable=int(store.one("SELECT count(*) FROM match_new WHERE NOT usable")),
            ulns_issued=ulns,
            pupils=int(store.one("SELECT count(*) FROM pupils")),
            retrained=retrained,
            seconds=round(time.perf_counter() - started, 2),
            charts=charts,
        )
        store.execute(
            "UPDATE match_runs SET finished_at = ?, records = ?, exact = ?, "
            "probabilistic = ?, new_pupils = ?, review = ?, unusable = ?, "
            "ulns_issued = ?, retrained = ?, upper_threshold = ?, "
            "lower_threshold = ?, seconds = ?, merged = ? WHERE match_run = ?",
            [
                datetime.now(),
                result.records,
                result.exact,
                result.probabilistic,
                result.new_pupils,
                result.review,
                result.unusable,
                result.ulns_issued,
                retrained,
                t.upper,
                t.lower,
                result.seconds,
                merged,
                run,
            ],
        )
    return result


def _probabilistic(
    store: Store,
    home: Home,
    model_path: Path,
    t: Thresholds,
    run: int,
    retrain: bool,
    score_new: bool,
) -> tuple[bool, list[str]]:
    """Train (or load) the model and, when records are left, score and decide;
    (retrained, chart paths)."""
    # imported here to save start-up time: Splink loads only when a run needs it
    from pupilshare.match.charts import write_charts
    from pupilshare.match.model import DEFAULT_MODEL, Model

    # The model learns from every version of a person seen (history and this run's
    # records), not from the index, which holds each pupil once.
    cols = (
        "forename, surname, former_surname, date_of_birth, sex, postcode, upn, "
        "former_upn"
    )
    everything = store.arrow(
        splink_input_sql(
            f"(SELECT 'h' || row_number() OVER () AS unique_id, {cols} FROM "
            f"pupil_history UNION ALL SELECT 'r' || profile_id AS unique_id, {cols} "
            f"FROM match_profiles)"
        ),
    )
    model = Model(everything, None if retrain else model_path)
    charts: list[str] = []
    retrained = False
    try:
        if not model.trained:
            if (retrain or everything.num_rows >= MIN_TRAIN) and model.try_train():
                model.save(model_path)
                retrained = True
                charts = [str(p) for p in write_charts(model, home.reports_dir)]
            else:  # too little data to estimate from: the shipped model, unsaved
                model.close()
                model = Model(everything, DEFAULT_MODEL)
        if score_new:
            model.tf_tables()
            between, within = score(store, model, t)
            decide(store, model, between, within, t, run, exact.next_key(store))
    finally:
        model.close()
    return retrained, charts
