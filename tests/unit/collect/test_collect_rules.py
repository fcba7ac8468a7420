"""The catalogue's rules, row in and problem out: each rule as a small table.

Rows start from a valid sample row of the dataset and change one or two values; the
test asserts which ``(line, field, severity)`` problems come back, and that the same
row passes untouched.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from pupilshare import catalogue
from pupilshare.collect import Collector
from pupilshare.collect.rules import problems_sql, read_csv_sql
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth.valid_returns import sample_sql


def base_rows(ds: str, n: int) -> list[dict[str, str | None]]:
    with Store() as s:
        table = s.arrow(sample_sql(catalogue.dataset(ds), n))
    return table.to_pylist()


def to_csv(ds: str, rows: list[dict[str, str | None]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    cols = catalogue.dataset(ds).columns
    w.writerow(cols)
    for r in rows:
        w.writerow(["" if r[c] is None else r[c] for c in cols])
    return out.getvalue()


def problems(tmp_path: Path, ds: str, rows: list[dict], name: str = "f.csv") -> set:
    path = tmp_path / name
    path.write_text(to_csv(ds, rows))
    home = Home(tmp_path / "home").ensure()
    with Store() as store:
        c = Collector(store, home)
        c.collect(catalogue.dataset(ds), path)
        got = store.rows("SELECT line, field, severity, reason FROM collect_problems")
    return {(line, f, sev) for line, f, sev, _ in got}


def with_values(ds: str, **values: str | None) -> list[dict]:
    rows = base_rows(ds, 3)
    rows[1].update(values)
    return rows


@pytest.mark.parametrize(
    "ds",
    [
        "census",
        "ks_results",
        "ncmp",
        "qualifications",
        "survey_contacts",
        "postcodes",
        "schools",
    ],
)
def test_sample_rows_are_valid(tmp_path: Path, ds: str) -> None:
    assert problems(tmp_path, ds, base_rows(ds, 50)) == set()


CENSUS_CASES = [
    # (values, expected problem on line 3)
    ({"sex": "m"}, ("sex", "error")),
    ({"sex": None}, ("sex", "error")),
    ({"ethnicity": "WENG"}, ("ethnicity", "error")),
    ({"date_of_birth": "2015-02-31"}, ("date_of_birth", "error")),
    ({"date_of_birth": "31/01/2015"}, ("date_of_birth", "error")),
    ({"entry_date": "2999-09-01"}, ("entry_date", "error")),
    ({"entry_date": "1899-10-01"}, ("entry_date", "error")),
    ({"upn": "A801200005001"}, ("upn", "error")),  # wrong check letter
    ({"upn": "R900400001001"}, ("upn", "error")),  # LA 900 not an LA number
    ({"upn": "G80120000101A"}, ("upn", "warning")),  # temporary UPN
    ({"former_upn": "Z801200001001"}, ("former_upn", "error")),
    ({"uln": "9999999999"}, ("uln", "warning")),  # placeholder, loads as NULL
    ({"uln": "1234567890"}, ("uln", "error")),  # check digit
    ({"laestab": "12345"}, ("laestab", "error")),
    ({"laestab": "9001234"}, ("laestab", "error")),
    ({"postcode": "AB12CD"}, ("postcode", "warning")),
    ({"postcode": "not a postcode"}, ("postcode", "error")),
    ({"surname": "Sm1th"}, ("surname", "warning")),
    ({"surname": "Smith "}, ("surname", "warning")),
    ({"sex": " M"}, ("sex", "error")),
    ({"forename": "x" * 101}, ("forename", "error")),
]


@pytest.mark.parametrize(
    ("values", "expected"), CENSUS_CASES, ids=[str(v) for v, _ in CENSUS_CASES]
)
def test_census_rules(tmp_path: Path, values: dict, expected: tuple) -> None:
    assert problems(tmp_path, "census", with_values("census", **values)) == {
        (3, *expected)
    }


@pytest.mark.parametrize(
    ("dob", "ncyear", "expected"),
    [
        ("2018-09-01", "1", set()),  # age 5 on 31 Aug 2024: Year 1
        ("2019-08-31", "1", set()),  # youngest of the year
        ("2019-09-01", "1", {(3, "ncyear", "warning")}),  # one year out
        ("2021-06-01", "1", {(3, "ncyear", "error")}),  # two years out
        ("2020-01-10", "R", set()),  # Reception: age 4
        ("2012-01-10", "R", {(3, "ncyear", "error")}),
        ("2025-01-10", "R", {(3, "date_of_birth", "error")}),  # born after census day
    ],
)
def test_age_fits_the_year_group(tmp_path, dob: str, ncyear: str, expected) -> None:
    rows = with_values("census", date_of_birth=dob, ncyear=ncyear)
    assert problems(tmp_path, "census", rows) == expected


def test_duplicate_key_needs_every_part(tmp_path: Path) -> None:
    rows = base_rows("qualifications", 4)
    rows[2] = dict(rows[0])
    assert problems(tmp_path, "qualifications", rows) == {
        (2, "awarding_body+uln+qual_type+subject+award_date", "error"),
        (4, "awarding_body+uln+qual_type+subject+award_date", "error"),
    }
    rows[0]["uln"] = rows[2]["uln"] = None  # NULL key parts are never duplicates
    assert problems(tmp_path, "qualifications", rows, "g.csv") == set()


def test_lines_follow_values_with_line_breaks(tmp_path: Path) -> None:
    rows = base_rows("survey_contacts", 4)
    rows[0]["address_line"] = "Flat 2\nHigh Street\nTown"  # rows now span lines 2-4
    rows[2]["contact_consent"] = "maybe"  # file line 6
    assert problems(tmp_path, "survey_contacts", rows) == {
        (6, "contact_consent", "error")
    }


def test_lines_after_rejected_and_blank_lines(tmp_path: Path) -> None:
    text = to_csv("census", base_rows("census", 4)).splitlines()
    values = next(csv.reader([text[4]]))
    values[8] = "Q"  # sex on line 5 (row 4)
    text[4] = ",".join(values)
    text.insert(2, "too,few")  # line 3 now, pushes row 2 down
    text.insert(4, "")  # a blank line 5
    (tmp_path / "r.csv").write_text("\n".join(text) + "\n")
    home = Home(tmp_path / "home").ensure()
    with Store() as store:
        Collector(store, home).collect(catalogue.dataset("census"), tmp_path / "r.csv")
        got = set(store.rows("SELECT line, field, severity FROM collect_problems"))
    assert got == {(3, "upn", "error"), (5, "", "warning"), (7, "sex", "error")}


def test_problems_sql_is_pure_text() -> None:
    census = catalogue.dataset("census")
    sql = problems_sql(census, "stage", date(2025, 1, 1))
    assert "DATE '2025-01-01'" in sql and "UNION ALL" in sql
    assert "file_index" in read_csv_sql(["a.csv"], census, "rj")


def test_lines_in_a_batch_of_files(tmp_path: Path) -> None:
    """Files read in one engine pass keep their own lines, mapped or not."""
    rows = base_rows("survey_contacts", 9)
    a, b, c = rows[:3], rows[3:6], rows[6:]
    b[0]["address_line"] = "Flat 1\nMill Lane"  # file b: row 2 spans lines 2-3
    b[1]["contact_consent"] = "maybe"  # file b, line 4
    c[2]["contact_consent"] = "maybe"  # file c, line 4
    for name, part in (("a", a), ("b", b), ("c", c)):
        (tmp_path / f"{name}.csv").write_text(to_csv("survey_contacts", part))
    home = Home(tmp_path / "home").ensure()
    with Store() as store:
        c_ = Collector(store, home)
        files = [tmp_path / f"{n}.csv" for n in "abc"]
        result = c_.collect_all(catalogue.dataset("survey_contacts"), files)
        got = store.rows("SELECT file, line, field FROM collect_problems ORDER BY 1")
    assert [o.status for o in result.outcomes] == ["loaded", "rejected", "rejected"]
    assert got == [
        (str(files[1]), 4, "contact_consent"),
        (str(files[2]), 4, "contact_consent"),
    ]
