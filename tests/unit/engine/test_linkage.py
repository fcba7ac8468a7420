"""The match model on Spark: its DuckDB conditions translated (pure, no engine
needed), and a model trained on Spark saved in DuckDB's dialect."""

from __future__ import annotations

import json

import sqlglot

from pupilshare.engine import dialect
from pupilshare.engine.linkage import duckdb_settings, spark_settings
from pupilshare.match.model import BLOCKING_RULES, DEFAULT_MODEL, settings


def _conditions(spec: dict) -> list[str]:
    return [
        level["sql_condition"]
        for c in spec["comparisons"]
        for level in c["comparison_levels"]
    ]


def test_jaro_winkler_is_written_in_spark_sql() -> None:
    """DuckDB's algorithm in Spark SQL over the two columns (its numbers are
    compared with DuckDB's on Spark in ``tests/integration/test_engines.py``)."""
    sql = dialect.condition_to_spark(
        'jaro_winkler_similarity("forename_l", "forename_r") >= 0.92'
    )
    assert sql.endswith(" >= 0.92") and "JARO_WINKLER" not in sql.upper()
    assert "LENGTH(`forename_l`)" in sql and "LENGTH(`forename_r`)" in sql
    assert "LENGTH(a)" not in sql and "LENGTH(b)" not in sql
    sqlglot.parse_one(sql, read="spark")
    assert dialect.condition_to_spark("ELSE") == "ELSE"


def test_every_condition_of_the_shipped_and_the_untrained_model_is_spark_sql() -> None:
    for spec in (
        json.loads(DEFAULT_MODEL.read_text()),
        settings().create_settings_dict("duckdb"),
    ):
        spark = spark_settings(spec)
        assert spark["sql_dialect"] == "spark"
        for sql in _conditions(spark):
            if sql != "ELSE":
                sqlglot.parse_one(sql, read="spark")  # parses as Spark SQL
            # DuckDB's names and double-quoted identifiers (strings on Spark) gone
            assert "jaro_winkler_similarity" not in sql.lower()
            assert '"' not in sql
        rules = spark["blocking_rules_to_generate_predictions"]
        assert {r["sql_dialect"] for r in rules} == {"spark"}


def test_a_model_trained_on_spark_is_saved_in_duckdbs_dialect() -> None:
    source = json.loads(DEFAULT_MODEL.read_text())
    source["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": r, "sql_dialect": "duckdb"} for r in BLOCKING_RULES
    ]
    trained = spark_settings(source)
    # what training changes: the parameters, never the conditions' meaning
    trained["comparisons"][0]["comparison_levels"][1]["m_probability"] = 0.123
    trained["probability_two_random_records_match"] = 0.001
    saved = duckdb_settings(trained, source)
    assert saved["sql_dialect"] == "duckdb"
    assert _conditions(saved) == _conditions(source)
    assert saved["comparisons"][0]["comparison_levels"][1]["m_probability"] == 0.123
    assert saved["probability_two_random_records_match"] == 0.001
    assert (
        saved["blocking_rules_to_generate_predictions"]
        == source["blocking_rules_to_generate_predictions"]
    )
