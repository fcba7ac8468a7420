"""The model ``link`` fits to two files of people it has never seen.

The pupil index's model (``match/model.py``) knows our own collections: clean dates,
UK postcodes, a sex on every record. Files from researchers, local authorities or
the statistics office are not like that, so ``link`` fits a model of its own to the
user's two files, built for the errors such files have, not for one file's:

- every comparison has levels for the error classes of its field: typing errors
  and transpositions (Damerau-Levenshtein 1, Jaro-Winkler), nicknames (a curated
  list, the ``nicknames`` package), forename and surname swapped, part of a
  double-barrelled surname, day and month swapped, and dates that are not dates
  (month 13) compared as text, never cast to NULL and lost; postcodes compared as
  text first (foreign codes agree only exactly or by one character) and, where UK
  shaped, by sector and outward code;
- blocking never needs two fields right at once: each rule needs one field right
  (birth date, surname, forename, postcode, names swapped) plus at most a first
  letter or birth year of another, and the rules overlap so that any one field
  kept intact finds the pair;
- m by EM and u by random sampling on the user's own files, and the prior from
  deterministic rules (any three of four fields exact), as Splink's febrl4 example
  does: nothing learned on our data decides a match on theirs;
- a column is used only when both files carry it well enough (a sex column empty
  in most of either file tells nothing and is ignored, with the reason).

The model is written once, in DuckDB's dialect, and runs on the chosen engine
(``--engine``, ``$PUPILSHARE_ENGINE``): on Spark through Splink's Spark backend,
its conditions translated (``engine.dialect``: Damerau-Levenshtein from Splink's
jar, Jaro-Winkler, Hamming and shared list elements written in Spark SQL to give
DuckDB's answers), and u estimated from the same sample of records on both engines
(``engine.sample``), so the same files give the same pairs and probabilities.
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
from splink import SettingsCreator
from splink.internals.exceptions import EMTrainingException, SplinkException

from pupilshare import engine

log = logging.getLogger(__name__)

# Jaro-Winkler thresholds: close (one or two letters) and alike (sound-alike,
# several typos), as Splink's NameComparison uses.
CLOSE, ALIKE = 0.92, 0.8
# Random pairs u is counted on (Splink's default): files of over about a thousand
# records each are sampled down to this many pairs.
U_PAIRS = 1e6


def _q(s: str) -> str:
    return s.replace("'", "''")


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def one_edit(col: str) -> str:
    """``{col}_l`` and ``{col}_r`` at most one edit apart (a character wrong, added,
    lost, or two adjacent ones transposed): Damerau-Levenshtein 1, but computed
    only where cheaper tests cannot answer (DuckDB's Damerau-Levenshtein costs
    about 10 us a pair; CASE evaluates each branch only on the rows reaching it)."""
    a, b = f"{col}_l", f"{col}_r"
    return (
        f"CASE WHEN abs(length({a}) - length({b})) > 1 THEN false "
        f"WHEN length({a}) = length({b}) THEN CASE WHEN hamming({a}, {b}) <= 1 "
        f"THEN true WHEN hamming({a}, {b}) = 2 THEN damerau_levenshtein({a}, {b}) = 1 "
        f"ELSE false END ELSE levenshtein({a}, {b}) <= 1 END"
    )


def _null(col: str) -> dict[str, Any]:
    return _level(f"{col}_l IS NULL OR {col}_r IS NULL", "null", is_null_level=True)


def forename_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "forename",
        "comparison_description": "forename: typos, nicknames, swapped with surname",
        "comparison_levels": [
            _null("forename"),
            _level(
                "forename_l = forename_r",
                "exact",
                tf_adjustment_column="forename",
                tf_adjustment_weight=1.0,
            ),
            _level(one_edit("forename"), "one letter wrong or transposed"),
            _level(
                "list_has_any(forename_roots_l, forename_roots_r)",
                "nickname of the same name",
            ),
            _level(
                f"jaro_winkler_similarity(forename_l, forename_r) >= {CLOSE}",
                f"Jaro-Winkler >= {CLOSE}",
            ),
            _level(
                "forename_l = surname_r OR surname_l = forename_r OR "
                f"jaro_winkler_similarity(forename_l, surname_r) >= {CLOSE}",
                "forename is the other's surname (swapped)",
            ),
            _level(
                "starts_with(forename_l, forename_r) OR "
                "starts_with(forename_r, forename_l)",
                "one is the start of the other",
            ),
            _level(
                f"jaro_winkler_similarity(forename_l, forename_r) >= {ALIKE}",
                f"Jaro-Winkler >= {ALIKE}",
            ),
            _level("ELSE", "all other"),
        ],
    }


def surname_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "surname",
        "comparison_description": "surname: typos, parts, swapped with forename",
        "comparison_levels": [
            _null("surname"),
            _level(
                "surname_l = surname_r",
                "exact",
                tf_adjustment_column="surname",
                tf_adjustment_weight=1.0,
            ),
            _level(one_edit("surname"), "one letter wrong or transposed"),
            _level(
                f"jaro_winkler_similarity(surname_l, surname_r) >= {CLOSE}",
                f"Jaro-Winkler >= {CLOSE}",
            ),
            _level(
                "surname_l = forename_r OR forename_l = surname_r OR "
                f"jaro_winkler_similarity(surname_l, forename_r) >= {CLOSE}",
                "surname is the other's forename (swapped)",
            ),
            _level(
                "list_has_any(surname_parts_l, surname_parts_r)",
                "a part of a double-barrelled surname",
            ),
            _level(
                f"jaro_winkler_similarity(surname_l, surname_r) >= {ALIKE}",
                f"Jaro-Winkler >= {ALIKE}",
            ),
            _level("ELSE", "all other"),
        ],
    }


def dob_comparison() -> dict[str, Any]:
    # dob_s is the date as typed, normalised to YYYY-MM-DD where its shape allows,
    # valid or not; date_of_birth is the date where it is one
    swap = (
        "substr(dob_s_l, 1, 5) || substr(dob_s_l, 9, 2) || '-' || "
        "substr(dob_s_l, 6, 2) = dob_s_r"
    )
    return {
        "output_column_name": "date_of_birth",
        "comparison_description": "date of birth as typed: typos, transpositions, "
        "day and month swapped, invalid dates",
        "comparison_levels": [
            _null("dob_s"),
            _level("dob_s_l = dob_s_r", "exact"),
            _level(swap, "day and month swapped"),
            _level(
                one_edit("dob_s"), "one digit wrong or two transposed (valid or not)"
            ),
            _level(
                "CASE WHEN length(dob_s_l) = length(dob_s_r) "
                "THEN hamming(dob_s_l, dob_s_r) <= 2 ELSE false END",
                "two digits wrong",
            ),
            _level(
                "abs(date_diff('day', date_of_birth_l, date_of_birth_r)) <= 366",
                "within a year",
            ),
            _level("ELSE", "all other"),
        ],
    }


def postcode_comparison() -> dict[str, Any]:
    return {
        "output_column_name": "postcode",
        "comparison_description": "postcode as text, then by UK sector and district",
        "comparison_levels": [
            _null("postcode"),
            _level("postcode_l = postcode_r", "exact"),
            _level(one_edit("postcode"), "one character wrong or transposed"),
            _level("pc_sector_l = pc_sector_r", "same sector"),
            _level("pc_outward_l = pc_outward_r", "same outward code (district)"),
            _level("ELSE", "all other"),
        ],
    }


def exact_comparison(col: str) -> dict[str, Any]:
    return {
        "output_column_name": col,
        "comparison_description": f"{col}: exact",
        "comparison_levels": [
            _null(col),
            _level(f"{col}_l = {col}_r", "exact"),
            _level("ELSE", "all other"),
        ],
    }


BLOCKING = [
    # each needs one field right, with at most a letter or a year of another
    "l.dob_s = r.dob_s",
    "l.surname = r.surname AND substr(l.forename, 1, 1) = substr(r.forename, 1, 1)",
    "l.surname = r.surname AND substr(l.dob_s, 1, 4) = substr(r.dob_s, 1, 4)",
    "l.forename = r.forename AND substr(l.surname, 1, 1) = substr(r.surname, 1, 1)",
    "l.forename = r.forename AND substr(l.dob_s, 1, 4) = substr(r.dob_s, 1, 4)",
    "l.postcode = r.postcode",
    "l.pc_outward = r.pc_outward AND substr(l.surname, 1, 2) = substr(r.surname, 1, 2)",
    "l.forename = r.surname AND substr(l.surname, 1, 1) = substr(r.forename, 1, 1)",
    "l.surname = r.forename AND substr(l.forename, 1, 1) = substr(r.surname, 1, 1)",
    # a year keyed wrong: month and day right, and two letters of the surname
    "substr(l.dob_s, 6, 5) = substr(r.dob_s, 6, 5) AND substr(l.surname, 1, 2) = "
    "substr(r.surname, 1, 2)",
]

# Any three of the four person fields exact: rare by chance, common for a match.
DETERMINISTIC = [
    "l.forename = r.forename AND l.surname = r.surname AND l.dob_s = r.dob_s",
    "l.forename = r.forename AND l.surname = r.surname AND l.postcode = r.postcode",
    "l.forename = r.forename AND l.dob_s = r.dob_s AND l.postcode = r.postcode",
    "l.surname = r.surname AND l.dob_s = r.dob_s AND l.postcode = r.postcode",
]


# (m, u) of each non-null level, in order, for files too small to estimate from
# (EM needs pairs): textbook magnitudes, not fitted to any data. Used only when
# training fails, and the result says so.
FALLBACK = {
    "forename": [
        (0.85, 0.01),
        (0.04, 5e-4),
        (0.03, 1e-3),
        (0.02, 2e-3),
        (0.02, 1e-4),
        (0.01, 2e-3),
        (0.02, 0.02),
        (0.01, 0.96),
    ],
    "surname": [
        (0.85, 2e-3),
        (0.05, 3e-4),
        (0.03, 1e-3),
        (0.02, 1e-4),
        (0.01, 1e-4),
        (0.02, 0.01),
        (0.02, 0.985),
    ],
    "date_of_birth": [
        (0.9, 1e-4),
        (0.01, 1e-5),
        (0.05, 1e-3),
        (0.02, 5e-3),
        (0.01, 0.03),
        (0.01, 0.96),
    ],
    "postcode": [(0.7, 5e-4), (0.05, 5e-4), (0.05, 2e-3), (0.08, 0.01), (0.12, 0.987)],
    "sex": [(0.97, 0.5), (0.03, 0.5)],
    "upn": [(0.9, 1e-5), (0.1, 0.99999)],
}


def _with_fallback(comparison: dict[str, Any]) -> dict[str, Any]:
    levels = [
        lvl for lvl in comparison["comparison_levels"] if "is_null_level" not in lvl
    ]
    fixed = FALLBACK[comparison["output_column_name"]]
    for lvl, (m, u) in zip(levels, fixed, strict=True):
        lvl.update(m_probability=m, u_probability=u)
    return comparison


def settings(extra: list[str], fallback: float | None = None) -> SettingsCreator:
    """The untrained model over the four person fields and ``extra`` columns
    (``sex``, ``upn``) both files carry; with ``fallback`` (a prior), the fixed
    parameters of ``FALLBACK`` instead."""
    comparisons = [
        forename_comparison(),
        surname_comparison(),
        dob_comparison(),
        postcode_comparison(),
        *(exact_comparison(c) for c in extra),
    ]
    blocking = BLOCKING + (["l.upn = r.upn"] if "upn" in extra else [])
    if fallback is not None:
        comparisons = [_with_fallback(c) for c in comparisons]
    return SettingsCreator(
        probability_two_random_records_match=fallback or 1e-4,
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


class LinkModel:
    """Splink over the two prepared files, on the chosen engine (``engine_name``,
    else ``$PUPILSHARE_ENGINE``, else DuckDB)."""

    def __init__(
        self,
        left: pa.Table,
        right: pa.Table,
        extra: list[str],
        engine_name: str | None = None,
    ) -> None:
        self.backend = engine.splink_backend(engine.choose(engine_name))
        # named as Splink names two tables registered without names, on any engine
        # (the names are the records' source datasets, part of the ids sampled)
        self.tables = [
            self.backend.table(t, f"__splink__input_table_{i}")
            for i, t in enumerate((left, right))
        ]
        self.extra = extra
        self.schema = left.schema
        self.prior = 1 / max(left.num_rows, right.num_rows, 2)
        self.linker = self._linker(settings(extra))
        self.fitted = False

    def _linker(self, spec: SettingsCreator) -> Any:
        return engine.linker(
            self.backend, self.tables, spec.create_settings_dict("duckdb")
        )

    def fit(self) -> bool:
        """Train on the files; where they are too small to estimate from, use the
        fixed ``FALLBACK`` parameters with a prior of one match per record of the
        larger file. True when fitted to the files."""
        try:
            self.train()
            self.fitted = True
        except (EMTrainingException, SplinkException, ValueError) as e:
            log.warning("link model not fitted: %s: %s", type(e).__name__, e)
            self.linker = self._linker(settings(self.extra, fallback=self.prior))
        return self.fitted

    def train(self, seed: int = 42) -> None:
        """Prior from deterministic rules, u by random sampling, m by EM (birth
        date and postcode sessions, so every comparison is trained) on the user's
        own files."""
        t = self.linker.training
        t.estimate_probability_two_random_records_match(DETERMINISTIC, recall=0.8)
        # u from every pair of the sample, in one chunk: Splink's chunks, and the
        # early stop once each level is counted 100 times, split the pairs by each
        # engine's own hash, so each engine would count different pairs
        t.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=seed, num_chunks=1)
        for rule in ("l.dob_s = r.dob_s", "l.postcode = r.postcode"):
            t.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )

    def predict(self, threshold: float) -> pa.Table:
        df = self.linker.inference.predict(
            threshold_match_probability=threshold, warning_mode="never"
        )
        return engine.fetch(df)

    def explain(self, left: dict, right: dict) -> dict[str, Any]:
        """The comparison levels and weights behind one pair's score, as Splink's
        waterfall chart shows them: the prior, then each comparison's level, its
        partial match weight (log2 m/u) and any term-frequency adjustment."""
        # as one-row tables of the files' own types: Spark cannot tell a column's
        # type from a record's NULL
        pair = [
            self.backend.table(
                pa.Table.from_pylist([record], schema=self.schema), f"explain_{side}"
            )
            for side, record in (("left", left), ("right", right))
        ]
        df = self.linker.inference.score_pair(
            *pair, include_found_by_blocking_rules=True
        )
        rec = engine.fetch(df).to_pylist()[0]
        labels = {
            c.output_column_name: {
                lvl.comparison_vector_value: lvl.label_for_charts
                for lvl in c.comparison_levels
            }
            for c in self.linker._settings_obj.comparisons
        }
        import math

        prior = self.linker._settings_obj._probability_two_random_records_match
        steps = []
        for name, levels in labels.items():
            gamma = int(rec[f"gamma_{name}"])
            tf = _number(rec.get(f"mw_tf_adj_{name}"))
            col = "dob_s" if name == "date_of_birth" else name
            steps.append(
                {
                    "comparison": name,
                    "level": levels.get(gamma, str(gamma)),
                    "left": _shown(rec.get(f"{col}_l")),
                    "right": _shown(rec.get(f"{col}_r")),
                    "weight": _number(rec[f"mw_{name}"]),
                    "tf_weight": tf,
                }
            )
        return {
            "prior_weight": math.log2(prior / (1 - prior)),
            "steps": steps,
            "match_weight": float(rec["match_weight"]),
            "match_probability": float(rec["match_probability"]),
            # a pair no blocking rule finds is never scored by a run, whatever
            # its score here
            "found_by_blocking": bool(rec.get("found_by_blocking_rules")),
        }

    def close(self) -> None:
        self.backend.close()


def _number(value: Any) -> float:
    return 0.0 if value is None or value != value else float(value)


def _shown(value: Any) -> str:
    if value is None or value != value:  # None or NaN
        return ""
    return str(value)
