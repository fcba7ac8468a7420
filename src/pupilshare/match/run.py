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
from pupilshare.errors import InvalidInput
from pupilshare.match import exact, index, merge, records
from pupilshare.match.probabilistic import (
    Thresholds,
    decide,
    score,
)
from pupilshare.match.records import splink_input_sql
from pupilshare.match.tables import ensure_tables
from pupilshare.match.uln import issue_ulns
from pupilshare.store import Store

# Defaults measured on synthetic nations (``bench/match.py --sweep``, recorded in
# bench/RESULTS.md, "Thresholds"), each matched from an empty index. On 1,000,000
# pupils an upper threshold of 0.9 gave F1 0.99911 (precision 0.999895, recall
# 0.998329) with 0.84% of records queued; 0.95 gave F1 0.99859 (precision 0.999940)
# with 1.03% queued, over the 1% a review team is sized for; 0.99 gave 0.99657 with
# 1.40%. On 100,000 pupils precision was 1.00000 from 0.8 to 0.999 and F1 highest at
# 0.8-0.9. Precision is what falls as a nation grows (more pupils share a name and
# birth date) and a false join shows one child's records under another's key, so the
# upper threshold is not taken below 0.9, where the 1 M nation still measured it. The
# lower threshold moves only review volume (on 100,000: 0.51% at 0.2, 0.19% at 0.5,
# 0.09% at 0.8): at 0.5 a clerk sees only candidates more likely the same pupil than
# not.
DEFAULTS: dict[str, Any] = {
    "upper_threshold": 0.9,
    "lower_threshold": 0.5,
    "reference_date": None,
    "model": "match-model.json",
}


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


def match_settings(home: Home) -> dict[str, Any]:
    """The ``[match]`` section of ``pupilshare.toml`` over the defaults, checked."""
    s = {**DEFAULTS, **home.settings("match")}
    up, low = float(s["upper_threshold"]), float(s["lower_threshold"])
    if not 0 < low <= up < 1:
        raise InvalidInput("match thresholds need 0 < lower <= upper < 1")
    s["upper_threshold"], s["lower_threshold"] = up, low
    ref = s["reference_date"]
    s["reference_date"] = date.fromisoformat(str(ref)) if ref else date.today()
    return s


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
            new_pupils=int(store.one("SELECT count(*) FROM pupils")) - before
            + merged,
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
    from pupilshare.match.model import DEFAULT_MODEL, Model  # Splink when needed

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
                charts = [str(p) for p in model.charts(home.reports_dir)]
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
