"""Matching rules as SQL, checked against plain Python on generated values."""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.match.exact import dob_agrees_sql
from pupilshare.match.link import dob_text_sql
from pupilshare.match.probabilistic import _explained
from pupilshare.match.records import _name_sql, postcode_sql


def _agrees(a: date, b: date) -> bool:
    if a == b:
        return True
    return a.day <= 12 and date(a.year, a.day, a.month) == b


dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=200, deadline=None)
@given(dates, dates)
def test_dob_agreement_sql_matches_python(a: date, b: date) -> None:
    sql = f"SELECT {dob_agrees_sql('a', 'b')} FROM (SELECT $1::DATE a, $2::DATE b)"
    assert duckdb.execute(sql, [a, b]).fetchone()[0] == _agrees(a, b)


@settings(max_examples=100, deadline=None)
@given(dates)
def test_swapped_day_and_month_agree(d: date) -> None:
    if d.day <= 12:
        swapped = date(d.year, d.day, d.month)
        sql = f"SELECT {dob_agrees_sql('a', 'b')} FROM (SELECT $1::DATE a, $2::DATE b)"
        assert duckdb.execute(sql, [d, swapped]).fetchone()[0] is True


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_names_normalise_to_capitals_or_null(name: str) -> None:
    out = duckdb.execute(f"SELECT {_name_sql('$1')}", [name]).fetchone()[0]
    if out is not None:
        assert out == out.strip() and out != ""
        assert set(out) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' -")


def test_name_normalising_keeps_letters_only() -> None:
    out = duckdb.execute(f"SELECT {_name_sql('$1')}", [" o'Brien-smith 2 "]).fetchone()
    assert out[0] == "O'BRIEN-SMITH"
    assert duckdb.execute(f"SELECT {_name_sql('$1')}", ["."]).fetchone()[0] is None


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} ?[0-9][A-Z]{2}", fullmatch=True))
def test_postcodes_get_one_space_before_the_inward_code(pc: str) -> None:
    out = duckdb.execute(f"SELECT {postcode_sql('$1')}", [pc.lower()]).fetchone()[0]
    compact = pc.replace(" ", "")
    assert out == f"{compact[:-3]} {compact[-3:]}"


def test_dob_agreement_sql_runs_over_every_day_of_a_year_at_once() -> None:
    # Vectorised, DuckDB may evaluate make_date for days above 12 (taken as months):
    # the rule must still answer, not fail, as it did inside an aggregate at 100k.
    sql = f"""
        SELECT count(*) FILTER (WHERE {dob_agrees_sql("a", "b")})
        FROM (SELECT DATE '2008-01-01' + INTERVAL (i) DAY AS a,
                     DATE '2008-01-01' + INTERVAL (i % 7) DAY AS b
              FROM range(366) t(i))"""
    start = date(2008, 1, 1).toordinal()
    pairs = [
        (date.fromordinal(start + i), date.fromordinal(start + i % 7))
        for i in range(366)
    ]
    want = sum(
        a == b or (a.day <= 12 and date(a.year, a.day, a.month) == b) for a, b in pairs
    )
    con = duckdb.connect()  # its own: the default one may hold another test's result
    assert con.execute(sql).fetchall() == [(want,)]
    con.close()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 40), min_size=1, max_size=6))
def test_best_candidate_share_is_its_part_of_the_evidence(weights: list[float]) -> None:
    # A record joins its best candidate only when that candidate's share of the
    # evidence (2^w over the sum of 2^w, all candidates) reaches the upper
    # threshold: one candidate has all of it; two equal ones half each.
    pairs = pa.table(
        {
            "unique_id_l": [f"p{i}" for i in range(len(weights))],
            "unique_id_r": ["r1"] * len(weights),
            "match_probability": [1 / (1 + 2**-w) for w in weights],
            "match_weight": weights,
        }
    )
    (row,) = _explained(pairs, "'{}'", best=True).to_pylist()
    want = max(2**w for w in weights) / sum(2**w for w in weights)
    assert math.isclose(row["match_weight"], max(weights), abs_tol=1e-9)
    assert math.isclose(row["share"], want, rel_tol=1e-9)
    if len(weights) == 1:
        assert row["share"] == 1.0
    if len(weights) > 1 and max(weights) - sorted(weights)[-2] < 1e-9:
        assert row["share"] <= 0.5 + 1e-9  # a tie is never clear


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)))
def test_link_reads_a_date_the_same_in_each_format(d: date) -> None:
    # ISO, UK day-first and compact forms of one date normalise to the same text
    forms = [
        d.isoformat(),
        d.strftime("%d/%m/%Y"),
        d.strftime("%Y%m%d"),
        f"{d.day}/{d.month}/{d.year}",
        d.strftime("%d.%m.%Y"),
    ]
    con = duckdb.connect()
    sql = f"SELECT {dob_text_sql('x')} FROM (SELECT ? AS x)"
    got = {con.execute(sql, [f]).fetchall()[0][0] for f in forms}
    assert got == {d.isoformat()}


@settings(max_examples=60, deadline=None)
@given(st.integers(1900, 2030), st.integers(13, 99), st.integers(1, 31))
def test_link_keeps_a_date_that_is_not_a_date_as_typed(y: int, m: int, d: int) -> None:
    # month 13 and the like are not cast away to NULL: compared as text
    con = duckdb.connect()
    typed = f"{y}-{m:02d}-{d:02d}"
    sql = f"SELECT {dob_text_sql('x')} FROM (SELECT ? AS x)"
    assert con.execute(sql, [typed]).fetchall() == [(typed,)]
