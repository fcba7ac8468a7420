"""Realistic faults, as SQL expressions and file-level edits.

Row faults (typos, nicknames, swapped day and month) keep every value valid against
the catalogue, so the file still loads and matching has to cope; a swapped date of
birth is only made where both dates fall in the same school year, so the pupil's age
still fits their year group. File faults (a duplicate pupil, a wrong UPN check
letter, a 31 February) make collection reject the whole file; their names go in the
manifest under ``faulty``.
"""

from __future__ import annotations

import duckdb
import numpy as np

from pupilshare.identifiers import UPN_LETTERS


def typo_sql(name: str, k: str) -> str:
    """A one-character slip in ``name`` chosen by integer ``k``: a letter dropped,
    doubled, swapped with the next or replaced. Only letters are touched, from the
    second character on, so the result is still a well-formed name."""
    n = f"length({name})"
    k = f"({k})"
    p = f"(2 + ({k} // 4) % greatest({n} - 2, 1))"
    op = f"({k} % 4)"
    repl = f"substr('aeilnorstu', 1 + ({k} // 64) % 10, 1)"
    edited = (
        f"CASE {op} WHEN 0 THEN substr({name}, 1, {p} - 1) || substr({name}, {p} + 1) "
        f"WHEN 1 THEN substr({name}, 1, {p}) || substr({name}, {p}) "
        f"WHEN 2 THEN substr({name}, 1, {p} - 1) || substr({name}, {p} + 1, 1) "
        f"|| substr({name}, {p}, 1) || substr({name}, {p} + 2) "
        f"ELSE substr({name}, 1, {p} - 1) || {repl} || substr({name}, {p} + 1) END"
    )
    return (
        f"(CASE WHEN {n} >= 4 AND regexp_full_match(substr({name}, {p}, 2), "
        f"'\\pL{{2}}') THEN {edited} ELSE {name} END)"
    )


def nickname_or_typo_sql(name: str, nick: str, k: str) -> str:
    """The nickname where the name has one (half the time), else a typo."""
    return (
        f"(CASE WHEN {nick} IS NOT NULL AND ({k}) % 2 = 0 THEN {nick} "
        f"ELSE {typo_sql(name, k)} END)"
    )


def swapped_sql(dob: str) -> str:
    """The date with day and month swapped (callers check ``swappable`` first)."""
    return f"make_date(year({dob}), day({dob}), month({dob}))"


def bad_check_letter_sql(upn: str) -> str:
    """The UPN with its check letter moved on by one: always wrong."""
    shifted = UPN_LETTERS[1:] + UPN_LETTERS[0]
    first = f"translate(substr({upn}, 1, 1), '{UPN_LETTERS}', '{shifted}')"
    return f"{first} || substr({upn}, 2)"


def _files(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT file FROM {table} ORDER BY file"
        ).fetchall()
    ]


def choose_files(
    con: duckdb.DuckDBPyConnection,
    table: str,
    n: int,
    rng: np.random.Generator,
    exclude: set[str],
) -> list[str]:
    files = [f for f in _files(con, table) if f not in exclude]
    if not files:
        return []
    picks = rng.choice(len(files), size=min(n, len(files)), replace=False)
    return sorted(files[i] for i in picks)


def duplicate_rows(
    con: duckdb.DuckDBPyConnection, table: str, files: list[str], order: str
) -> None:
    """``dup_<table>``: one row of each file again, exactly (a pupil sent twice in
    one return)."""
    con.execute(
        f"CREATE OR REPLACE TABLE dup_{table} AS "
        f"SELECT * REPLACE (1 AS dup) FROM src_{table} "
        "WHERE list_contains(?, file) "
        f"QUALIFY row_number() OVER (PARTITION BY file ORDER BY {order}) = 2",
        [files],
    )


def set_value(
    con: duckdb.DuckDBPyConnection, table: str, file: str, column: str, expr: str
) -> None:
    """Overwrite ``column`` on the first data row (line 2) of ``file``."""
    con.execute(
        f"UPDATE {table} SET {column} = {expr} WHERE file = ? AND line = 2", [file]
    )
