"""The writer: files follow the stored line order, or it refuses to write."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pupilshare import catalogue
from pupilshare.synth import writer

COLS = catalogue.dataset("survey_contacts").columns


def _out(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, int, str]]) -> None:
    table = {
        "file": [r[0] for r in rows],
        "line": [r[1] for r in rows],
        "person_id": list(range(len(rows))),
    }
    for c in COLS:
        table[c] = [r[2] if c == "surname" else "x" for r in rows]
    con.register("_rows", pa.table(table))
    con.execute("CREATE OR REPLACE TABLE out_survey_contacts AS SELECT * FROM _rows")


def test_rows_land_on_their_lines(tmp_path: Path) -> None:
    con = duckdb.connect()
    _out(con, [("a.csv", 2, "Ng"), ("a.csv", 3, "Li"), ("b.csv", 2, "Oz")])
    counts = writer.write_dataset(con, "survey_contacts", tmp_path, lambda _: None)
    assert counts == {"a.csv": 2, "b.csv": 1}
    lines = (tmp_path / "a.csv").read_text().splitlines()
    assert lines[0].split(",") == COLS
    assert [ln.split(",")[COLS.index("surname")] for ln in lines[1:]] == ["Ng", "Li"]


@pytest.mark.parametrize(
    "rows",
    [
        [("a.csv", 3, "Ng"), ("a.csv", 2, "Li")],  # lines out of order
        [("a.csv", 2, "Ng"), ("b.csv", 2, "Li"), ("a.csv", 3, "Oz")],  # split file
    ],
)
def test_out_of_order_rows_are_refused(tmp_path: Path, rows: list) -> None:
    con = duckdb.connect()
    _out(con, rows)
    with pytest.raises(RuntimeError):
        writer.write_dataset(con, "survey_contacts", tmp_path, lambda _: None)


def test_a_value_with_a_comma_is_refused_not_mangled(tmp_path: Path) -> None:
    con = duckdb.connect()
    _out(con, [("a.csv", 2, "Smith, Jr")])
    with pytest.raises(pa.ArrowInvalid):
        writer.write_dataset(con, "survey_contacts", tmp_path, lambda _: None)
