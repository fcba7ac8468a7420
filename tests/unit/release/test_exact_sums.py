"""A table's sums are exact: the same figures whatever order the engine adds the
records in (Spark and DuckDB add in different orders; floating sums then differ in
their last digits, and the releases would not be identical)."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.plan import TableSpec
from pupilshare.release.aggregate import cells_sql
from pupilshare.release.population import PUPIL_KEY

SPEC = TableSpec(name="t", dataset="ncmp", rows=("g",), measure="m")


def _cells(values: list[float], reverse: bool) -> list[tuple]:
    con = duckdb.connect(config={"threads": 1})
    rows = [(i % 2, i, v) for i, v in enumerate(values)]
    con.execute(f"CREATE TABLE src (g INTEGER, {PUPIL_KEY} BIGINT, m DOUBLE)")
    con.executemany("INSERT INTO src VALUES (?, ?, ?)", rows[::-1] if reverse else rows)
    out = con.execute(
        f"SELECT * FROM ({cells_sql(SPEC, 'src', 2)}) ORDER BY ALL"
    ).fetchall()
    con.close()
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.decimals("0", "500", places=2).map(float), min_size=3, max_size=40))
def test_sums_do_not_depend_on_the_order_of_the_records(values: list[float]) -> None:
    assert _cells(values, reverse=False) == _cells(values, reverse=True)


def test_a_sum_is_the_exact_decimal_sum() -> None:
    cells = _cells([0.1] * 20, reverse=False)
    totals = {c[0]: c[2] for c in cells}  # the margin's row (g NULL) too
    # each 0.9999999999999999 in floating point
    assert totals == {"0": 1.0, "1": 1.0, None: 2.0}
