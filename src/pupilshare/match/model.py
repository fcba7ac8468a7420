"""The Splink model: settings, training and prediction (its charts: ``charts.py``).

Fellegi-Sunter over forename and surname (term-frequency adjusted), date of birth (typos
and day/month swaps), sex, postcode (full, sector, district, area) and UPN (including a
former UPN on either side). u is estimated by random sampling and m by EM, each EM
session blocked so the fields it does not block on get trained. Splink runs on its own
in-memory DuckDB connection, or on Splink's Spark backend with ``--engine spark``
(``engine.splink_backend``), fed with Arrow tables either way, so its work tables
never touch the store and a match run's writes stay one transaction.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import splink.comparison_library as cl
from splink import Linker, SettingsCreator
from splink.internals.exceptions import EMTrainingException, SplinkException

from pupilshare import engine
from pupilshare.match.records import splink_input_sql, stage
from pupilshare.match.tables import ensure_tables
from pupilshare.store import Store

log = logging.getLogger(__name__)

# A model trained on a sample nation (``python -m pupilshare.match.model``), used
# when a home has too few records to train its own.
DEFAULT_MODEL = Path(__file__).with_name("default-model.json")

# EM trains on this many blocked pairs at most: plenty for m, bounded time at 1 M
# pupils. (Splink samples only when given max_pairs; a record proportion alone left
# EM blocked on names over every pair, about a billion at 1 M pupils.)
EM_PAIRS = 3_000_000
# Counting the deterministic rules' pairs samples this many records per side at most.
COUNT_RECORDS = 300_000


def _dob_comparison() -> dict[str, Any]:
    swap = (
        "day(date_of_birth_l) <= 12 AND make_date(year(date_of_birth_l), "
        "day(date_of_birth_l), month(date_of_birth_l)) = date_of_birth_r"
    )
    return {
        "output_column_name": "date_of_birth",
        "comparison_levels": [
            {
                "sql_condition": "date_of_birth_l IS NULL OR date_of_birth_r IS NULL",
                "label_for_charts": "null",
                "is_null_level": True,
            },
            {
                "sql_condition": "date_of_birth_l = date_of_birth_r",
                "label_for_charts": "exact",
            },
            {"sql_condition": swap, "label_for_charts": "day and month swapped"},
            {
                "sql_condition": "damerau_levenshtein(dob_s_l, dob_s_r) <= 1",
                "label_for_charts": "one digit typed wrong",
            },
            {
                "sql_condition": "abs(date_diff('day', date_of_birth_l, "
                "date_of_birth_r)) <= 31",
                "label_for_charts": "within a month",
            },
            {
                "sql_condition": "abs(date_diff('day', date_of_birth_l, "
                "date_of_birth_r)) <= 366",
                "label_for_charts": "within a year",
            },
            {"sql_condition": "ELSE", "label_for_charts": "all other"},
        ],
        "comparison_description": "date of birth with typos and day/month swaps",
    }


def _upn_comparison() -> dict[str, Any]:
    cross = (
        "(upn_l = former_upn_r OR former_upn_l = upn_r OR former_upn_l = former_upn_r)"
    )
    return {
        "output_column_name": "upn",
        "comparison_levels": [
            {
                "sql_condition": f"(upn_l IS NULL OR upn_r IS NULL) "
                f"AND NOT coalesce({cross}, false)",
                "label_for_charts": "null",
                "is_null_level": True,
            },
            {"sql_condition": "upn_l = upn_r", "label_for_charts": "exact"},
            # Random sampling almost never draws two records where one's former UPN
            # is the other's UPN, so u would be left unestimated (and Splink's
            # fallback gives the level almost no weight): it is set, as rare as two
            # random records sharing a UPN at 1 M pupils.
            {
                "sql_condition": f"coalesce({cross}, false)",
                "label_for_charts": "former UPN agrees",
                "u_probability": 1e-6,
                "fix_u_probability": True,
            },
            {
                "sql_condition": "damerau_levenshtein(upn_l, upn_r) <= 1",
                "label_for_charts": "one character wrong",
            },
            {"sql_condition": "ELSE", "label_for_charts": "all other"},
        ],
        "comparison_description": "UPN, current or former",
    }


def _other_surname_comparison() -> dict[str, Any]:
    cross = "(surname_l = former_surname_r OR former_surname_l = surname_r)"
    return {
        "output_column_name": "other_surname",
        "comparison_levels": [
            {
                "sql_condition": "coalesce(former_surname_l, former_surname_r) IS NULL",
                "label_for_charts": "null",
                "is_null_level": True,
            },
            # Too rare for EM to estimate (it can drive m to 0), so m is set: about
            # 1 in 50 of a pupil's records carry a surname it also used.
            {
                "sql_condition": f"coalesce({cross}, false)",
                "label_for_charts": "surname matches a surname also used",
                "m_probability": 0.02,
                "fix_m_probability": True,
            },
            {
                "sql_condition": "ELSE",
                "label_for_charts": "all other",
                "m_probability": 0.98,
                "fix_m_probability": True,
            },
        ],
        "comparison_description": "surname against former or other surnames",
    }


BLOCKING_RULES = [
    # Pairs each rule makes on one 1 M-pupil census year (2.66 M records), counted in
    # DuckDB: birth date and two letters of the surname 24 M, of the forename 19 M;
    # names and birth year 47 M (names alone made 624 M, intractable on 2 cores);
    # UPN 3 M; postcode and two letters of the forename 3 M. Together they still
    # catch any single field's error (a birth date typo meets its pupil by name and
    # year or by postcode).
    "l.date_of_birth = r.date_of_birth AND substr(l.surname, 1, 2) = "
    "substr(r.surname, 1, 2)",
    "l.date_of_birth = r.date_of_birth AND substr(l.forename, 1, 2) = "
    "substr(r.forename, 1, 2)",
    "l.forename = r.forename AND l.surname = r.surname AND "
    "year(l.date_of_birth) = year(r.date_of_birth)",
    "l.upn = r.upn",
    "l.postcode = r.postcode AND substr(l.forename, 1, 2) = substr(r.forename, 1, 2)",
]


def settings() -> SettingsCreator:
    """The untrained model."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            # Both names term-frequency adjusted: two pupils called Muhammad or
            # Oliver agreeing on forename is weaker evidence than two called Ottoline
            # (without it, same-named pupils born on one day joined on names alone)
            cl.NameComparison("forename").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            _dob_comparison(),
            cl.ExactMatch("sex"),
            cl.PostcodeComparison("postcode"),
            _upn_comparison(),
            _other_surname_comparison(),
        ],
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


class Model:
    """A Splink linker over one input table, on the chosen engine (``engine``,
    else ``$PUPILSHARE_ENGINE``, else DuckDB)."""

    def __init__(
        self,
        records: pa.Table,
        model_path: Path | None = None,
        engine_name: str | None = None,
    ) -> None:
        self.backend = engine.splink_backend(engine.choose(engine_name))
        self._all = self.backend.table(records, "all_records")
        loaded = model_path is not None and model_path.exists()
        # blocking is how pairs are found, not a learned parameter: a saved model
        # is always used with the current rules
        if loaded:
            spec = json.loads(Path(model_path).read_text())
        else:
            spec = settings().create_settings_dict("duckdb")
        spec["blocking_rules_to_generate_predictions"] = [
            {"blocking_rule": r, "sql_dialect": "duckdb"} for r in BLOCKING_RULES
        ]
        self.linker = Linker(
            self._all, self.backend.settings(spec), log_level=logging.ERROR
        )
        self.trained = loaded
        self.rows = max(records.num_rows, 1)
        self._n = 0

    def train(self, seed: int = 42, max_pairs: float = 2e6) -> None:
        """u by random sampling, m by EM (two sessions), lambda from exact rules."""
        t = self.linker.training
        t.estimate_probability_two_random_records_match(
            [
                "l.upn = r.upn AND l.date_of_birth = r.date_of_birth",
                "l.forename = r.forename AND l.surname = r.surname AND "
                "l.date_of_birth = r.date_of_birth",
            ],
            recall=0.8,
            record_sample_proportion=min(1.0, COUNT_RECORDS / self.rows),
        )
        t.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
        for rule in (
            "l.date_of_birth = r.date_of_birth",
            "l.forename = r.forename AND l.surname = r.surname",
        ):
            t.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=EM_PAIRS
            )
        self.trained = True

    def try_train(self) -> bool:
        """Train, or say False when the data cannot support estimation."""
        try:
            self.train()
        except (EMTrainingException, SplinkException, ValueError) as e:
            log.warning("match model not trained: %s: %s", type(e).__name__, e)
            return False
        return True

    def save(self, path: Path) -> None:
        """Write the trained model, in DuckDB's dialect whichever engine trained it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        trained = self.backend.saved(self.linker.misc.save_model_to_json())
        path.write_text(json.dumps(trained, indent=4))

    def level_labels(self) -> dict[str, dict[int, str]]:
        """Each comparison's levels: gamma value to chart label."""
        out: dict[str, dict[int, str]] = {}
        for c in self.linker._settings_obj.comparisons:
            out[c.output_column_name] = {
                lvl.comparison_vector_value: lvl.label_for_charts
                for lvl in c.comparison_levels
            }
        return out

    def _register(self, table: pa.Table) -> Any:
        self._n += 1
        return self.backend.table(table, f"_in_{self._n}")

    def tf_tables(self) -> None:
        """Term frequencies, for every column the model adjusts, from all the
        records the model was given."""
        for col in self.linker._settings_obj._term_frequency_columns:
            self.linker.table_management.compute_tf_table(col.input_name)

    def between(self, left: pa.Table, right: pa.Table, threshold: float) -> pa.Table:
        """Scored pairs from ``left`` (the index) to ``right`` (new records)."""
        if left.num_rows == 0 or right.num_rows == 0:
            return _empty_pairs()
        df = self.linker.inference.predict_between(
            self._register(left),
            self._register(right),
            threshold_match_probability=threshold,
            warning_mode="never",
        )
        return self._fetch(df)

    def within(self, records: pa.Table, threshold: float) -> pa.Table:
        """Scored pairs among ``records``."""
        if records.num_rows < 2:
            return _empty_pairs()
        df = self.linker.inference.predict_within(
            self._register(records),
            threshold_match_probability=threshold,
            warning_mode="never",
        )
        return self._fetch(df)

    def predict_all(self, threshold: float) -> pa.Table:
        """Scored pairs within the model's own input (Splink alone, no exact pass)."""
        df = self.linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        return self._fetch(df)

    def _fetch(self, df: Any) -> pa.Table:
        return engine.fetch(df)

    def close(self) -> None:
        self.backend.close()


def _empty_pairs() -> pa.Table:
    return pa.table(
        {
            "unique_id_l": pa.array([], pa.string()),
            "unique_id_r": pa.array([], pa.string()),
            "match_probability": pa.array([], pa.float64()),
            "match_weight": pa.array([], pa.float64()),
        }
    )


def build_default_model(pupils: int = 4000) -> Path:
    """Train on a labelled sample nation and write ``DEFAULT_MODEL`` (run by hand,
    ``python -m pupilshare.match.model``, when the comparisons change)."""
    # imported here: the sample generator is needed only to rebuild the shipped model
    from pupilshare.synth.labelled_records import generate

    with tempfile.TemporaryDirectory() as tmp, Store() as store:
        generate(store, pupils, seed=11, nation=Path(tmp))
        ensure_tables(store)
        stage(store)
        sql = "(SELECT 'r' || profile_id AS unique_id, * FROM match_profiles)"
        model = Model(store.arrow(splink_input_sql(sql)))
        model.train()
        model.save(DEFAULT_MODEL)
        model.close()
    return DEFAULT_MODEL


if __name__ == "__main__":
    print(build_default_model())
