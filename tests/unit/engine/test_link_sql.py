"""The link model's SQL on Spark gives DuckDB's answers: each expression the
dialect layer writes for Spark (``hamming``, ``list_has_any``, the bound before
``jaro_winkler_similarity >= t``), the sample of records u is estimated from, and
every comparison level of the model, over the same rows on both engines.

Spark answers a query in about a second whatever its size, so each example is a
table of many rows evaluated in one query, and the examples are few.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pupilshare.engine import dialect
from pupilshare.engine.sample import sample_sql
from pupilshare.match import linkmodel

pytestmark = pytest.mark.spark

FEW = settings(max_examples=4, deadline=None)
NAMES = [
    "MUHAMMAD", "MOHAMMED", "OLIVER", "OLIVIA", "AMELIA", "AMELIE", "O'BRIEN",
    "ANNE-MARIE", "LI", "XI", "MACDONALD", "MCDONALD", "A", "ZOË", "SMITH-JONES",
]  # fmt: skip
LETTERS = "ABEHNRST'- É"


@pytest.fixture(scope="module")
def spark_sql(spark):  # type: ignore[no-untyped-def]
    """Run a DuckDB-dialect query over a table ``t`` on both engines: (DuckDB's
    rows, Spark's rows), each ordered by the first column."""
    from splink.backends.spark import SparkAPI

    SparkAPI(spark_session=spark)  # registers Splink's jar (damerau_levenshtein)

    def both(sql: str, table: pa.Table) -> tuple[list[tuple], list[tuple]]:
        con = duckdb.connect()
        con.register("t", table)
        want = sorted(con.execute(sql).fetchall(), key=repr)
        spark.createDataFrame(table).createOrReplaceTempView("t")
        got = sorted(
            (tuple(r) for r in spark.sql(dialect.to_spark(sql)).collect()), key=repr
        )
        return want, got

    return both


def _name() -> st.SearchStrategy[str]:
    return st.sampled_from(NAMES) | st.text(LETTERS, max_size=9)


def _edited(s: str) -> st.SearchStrategy[str]:
    """``s``, or ``s`` with a character changed, added, lost or transposed."""
    if not s:
        return st.text(LETTERS, max_size=2)
    i = st.integers(0, len(s) - 1)
    c = st.sampled_from(LETTERS)
    return st.one_of(
        st.just(s),
        st.builds(lambda i, c: s[:i] + c + s[i + 1 :], i, c),
        st.builds(lambda i, c: s[:i] + c + s[i:], i, c),
        st.builds(lambda i: s[:i] + s[i + 1 :], i),
        st.builds(lambda i: s[:i] + s[i + 1 : i + 2] + s[i] + s[i + 2 :], i),
    )


def _pairs() -> st.SearchStrategy[list[tuple[str, str]]]:
    pair = _name().flatmap(lambda a: st.tuples(st.just(a), _edited(a) | _name()))
    return st.lists(pair, min_size=1, max_size=80)


def _table(pairs: list[tuple]) -> pa.Table:
    a, b = zip(*pairs, strict=True)
    return pa.table({"i": list(range(len(pairs))), "a": list(a), "b": list(b)})


@FEW
@given(
    st.lists(
        st.integers(1, 9).flatmap(
            lambda n: st.tuples(*[st.text(LETTERS, min_size=n, max_size=n)] * 2)
        ),
        min_size=1,
        max_size=80,
    )
)
@example([("A", "A"), ("ÉA", "EA"), ("AB", "BA"), ("ABC", "XYZ"), ("'-", "- ")])
def test_hamming_is_duckdbs(spark_sql, pairs) -> None:  # type: ignore[no-untyped-def]
    """Where DuckDB's is defined: two strings of one length, not empty (the model
    tests the lengths first, and its fields are never empty, NULL instead)."""
    want, got = spark_sql("SELECT i, hamming(a, b) FROM t", _table(pairs))
    assert got == want


LISTS = st.none() | st.lists(st.none() | st.sampled_from(["A", "B", "C"]), max_size=3)


@FEW
@given(st.lists(st.tuples(LISTS, LISTS), min_size=1, max_size=60))
@example([([None], ["A"]), ([None], [None]), ([], ["A"]), (None, ["A"]), (["A"], [])])
def test_list_has_any_is_duckdbs(spark_sql, pairs) -> None:  # type: ignore[no-untyped-def]
    table = pa.table(
        {
            "i": list(range(len(pairs))),
            "a": pa.array([p[0] for p in pairs], pa.list_(pa.string())),
            "b": pa.array([p[1] for p in pairs], pa.list_(pa.string())),
        }
    )
    want, got = spark_sql("SELECT i, list_has_any(a, b) FROM t", table)
    assert got == want


@FEW
@given(_pairs())
@example([("", ""), ("", "A"), ("A", "A"), ("MARTHA", "MARHTA"), ("DWAYNE", "DUANE")])
def test_jaro_winkler_at_least_is_duckdbs(spark_sql, pairs) -> None:  # type: ignore[no-untyped-def]
    """The bound never turns away a pair that reaches the threshold, at the model's
    thresholds and at the values these very pairs score (the edge itself)."""
    con = duckdb.connect()
    con.register("t", _table(pairs))
    scores = con.execute(
        "SELECT DISTINCT jaro_winkler_similarity(a, b) FROM t ORDER BY 1 DESC LIMIT 3"
    ).fetchall()
    thresholds = (linkmodel.ALIKE, linkmodel.CLOSE, *(repr(v) for (v,) in scores))
    conditions = ", ".join(
        f"jaro_winkler_similarity(a, b) >= {t} AS c{n}"
        for n, t in enumerate(thresholds)
    )
    want, got = spark_sql(f"SELECT i, {conditions} FROM t", _table(pairs))
    assert got == want


@FEW
@given(
    st.lists(st.text(LETTERS + "0123456789", max_size=12), min_size=1, max_size=80),
    st.floats(0.01, 0.99),
    st.none() | st.integers(0, 10**6),
)
def test_a_sample_is_the_same_records_on_both_engines(
    spark_sql, ids, proportion, seed
) -> None:  # type: ignore[no-untyped-def]
    table = pa.table({"i": list(range(len(ids))), "id": ids})
    sql = f"SELECT i FROM t WHERE {sample_sql('id', proportion, seed)}"
    want, got = spark_sql(sql, table)
    assert got == want


def test_a_sample_takes_about_the_proportion_asked() -> None:
    con = duckdb.connect()
    for proportion in (0.05, 0.5, 0.9):
        n = con.execute(
            "SELECT count(*) FROM range(20000) r(i) WHERE "
            + sample_sql("CAST(i AS VARCHAR)", proportion, 42)
        ).fetchall()[0][0]
        assert abs(n / 20000 - proportion) < 0.02


def _records() -> st.SearchStrategy[dict]:
    """Two records as ``link`` prepares them (NULLs included)."""
    dates = st.dates(dt.date(2005, 1, 1), dt.date(2020, 12, 31))
    dob = dates.map(str) | st.sampled_from(["2011-13-05", "2011-02-30", "XX"])
    postcode = st.sampled_from(["LS1 1AA", "LS1 1AB", "LS11 1AA", "75008", "LS1"])

    def person(forename, surname, dob_s, pc):  # type: ignore[no-untyped-def]
        try:
            date = dt.date.fromisoformat(dob_s) if dob_s else None
        except ValueError:
            date = None
        uk = pc and " " in pc
        return {
            "forename": forename or None,
            "surname": surname or None,
            "dob_s": dob_s,
            "date_of_birth": date,
            "postcode": pc,
            "pc_sector": pc[:-2] if uk else None,
            "pc_outward": pc.split()[0] if pc else None,
            "forename_roots": [forename, "WILLIAM"] if forename else [None],
            "surname_parts": surname.split("-") if surname and "-" in surname else None,
            "sex": None,
            "upn": None,
        }

    one = st.builds(person, _name(), _name(), st.none() | dob, st.none() | postcode)

    def other(r: dict) -> st.SearchStrategy[dict]:
        return st.builds(
            lambda f, s, d, p, swap: person(
                *((s, f) if swap else (f, s)),
                d,
                p,
            ),
            _edited(r["forename"] or ""),
            _edited(r["surname"] or ""),
            st.just(r["dob_s"])
            | (
                st.just(r["dob_s"][:5] + r["dob_s"][8:] + r["dob_s"][4:7])
                if r["dob_s"] and len(r["dob_s"]) == 10
                else st.none()
            )
            | st.none()
            | dob,
            st.just(r["postcode"]) | st.none() | postcode,
            st.booleans(),
        )

    return one.flatmap(lambda r: st.tuples(st.just(r), other(r)))


@settings(max_examples=3, deadline=None)
@given(st.lists(_records(), min_size=20, max_size=60))
def test_every_level_of_the_link_model_is_duckdbs(spark_sql, pairs) -> None:  # type: ignore[no-untyped-def]
    """Each comparison level's condition, as Splink tests it (NULL is not true),
    decides each pair alike on both engines: Levenshtein, Damerau-Levenshtein
    (Splink's jar), starts_with, date_diff and the day and month swap in sqlglot's
    translation, the rest in the named per-engine expressions."""
    spec = linkmodel.settings(["sex", "upn"]).create_settings_dict("duckdb")
    conditions = [
        level["sql_condition"]
        for c in spec["comparisons"]
        for level in c["comparison_levels"]
        if level["sql_condition"] != "ELSE"
    ]
    cols = {}
    for side, n in (("l", 0), ("r", 1)):
        for key in pairs[0][0]:
            cols[f"{key}_{side}"] = [p[n][key] for p in pairs]
    table = pa.table(
        {
            "i": list(range(len(pairs))),
            **{
                k: pa.array(
                    v,
                    pa.list_(pa.string())
                    if k.startswith(("forename_roots", "surname_parts"))
                    else pa.date32()
                    if k.startswith("date_of_birth")
                    else pa.string(),
                )
                for k, v in cols.items()
            },
        }
    )
    select = ", ".join(
        f"coalesce(({c}), false) AS c{n}" for n, c in enumerate(conditions)
    )
    want, got = spark_sql(f"SELECT i, {select} FROM t", table)
    assert got == want
