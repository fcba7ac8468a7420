"""The dialect layer: DuckDB's SQL translated for Spark (pure: no engine needed),
and the per-engine expressions checked against DuckDB's own answers."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.engine import choose, dialect
from pupilshare.errors import InvalidInput


def test_engine_is_chosen_by_name_or_environment(monkeypatch) -> None:
    monkeypatch.delenv("PUPILSHARE_ENGINE", raising=False)
    assert choose() == "duckdb"
    monkeypatch.setenv("PUPILSHARE_ENGINE", "Spark")
    assert choose() == "spark"
    assert choose("duckdb") == "duckdb"
    with pytest.raises(InvalidInput):
        choose("oracle")


def test_every_named_expression_is_translated() -> None:
    sql = dialect.to_spark(
        "SELECT coalesce(list_extract(max(v, 3), 2), 0) AS t, list_sum(max(v, 2)) AS s,"
        " date_sub('month', a, b) AS m,"
        " count(DISTINCT k) OVER (PARTITION BY g) AS f FROM t GROUP BY ALL"
    )
    assert "SLICE(SORT_ARRAY(COLLECT_LIST(v), FALSE), 1, 3)" in sql
    assert "TRY_ELEMENT_AT(" in sql and "AGGREGATE(" in sql
    assert "LAST_DAY(b)" in sql
    assert "SIZE(COLLECT_SET(k) OVER (PARTITION BY g))" in sql
    assert "MAX(v," not in sql and "LIST_" not in sql


def test_tables_and_files_are_told_apart() -> None:
    tree = dialect.parse(
        "WITH c AS (SELECT 1) SELECT * FROM c JOIN pupils p ON TRUE "
        "JOIN information_schema.tables t ON TRUE"
    )
    assert dialect.tables(tree) == {"pupils"}
    assert not dialect.reads_files(tree)
    staged = dialect.parse("SELECT count(*) FROM read_parquet('/x/f.parquet')")
    assert dialect.reads_files(staged)
    assert dialect.parse("DESCRIBE SELECT 1; SELECT 2") is None


def _duckdb_months(a: date, b: date) -> int:
    return duckdb.execute(
        f"SELECT date_sub('month', DATE '{a}', DATE '{b}')"
    ).fetchall()[0][0]


@settings(max_examples=150, deadline=None)
@given(
    st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    st.integers(0, 4000),
)
def test_whole_months_match_duckdb(a: date, days: int) -> None:
    """The Spark form of date_sub('month', a, b) (month arithmetic and last_day,
    functions DuckDB has too) gives DuckDB's answer, month ends included."""
    b = a + timedelta(days=days)
    spark_form = dialect.to_spark(
        f"SELECT date_sub('month', CAST('{a}' AS DATE), CAST('{b}' AS DATE))"
    )
    assert duckdb.execute(spark_form).fetchall()[0][0] == _duckdb_months(a, b)
