"""Valid sample files for any dataset, generated in DuckDB SQL from the catalogue.

Used by the tests (valid rows round-trip; a single corruption is caught) and by the
benchmark (a million census rows in seconds). Every value is built to pass the
catalogue's rules: real UPN check letters and ULN check digits, code set values, dates
of birth that fit the year group, and unique keys that do not repeat.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pupilshare import schoolyear
from pupilshare.catalogue import Dataset, Item
from pupilshare.collect.rules import ident, lit
from pupilshare.identifiers import LA_NUMBERS, UPN_LETTERS
from pupilshare.store import Store

EVENT = date(2024, 10, 3)  # an autumn census day
_LAS = sorted(LA_NUMBERS)


def _la(i: str) -> str:
    return f"list_extract([{', '.join(lit(x) for x in _LAS)}], ({i} % {len(_LAS)}) + 1)"


def _letters(i: str, n: int) -> str:
    """``n`` letters spelling ``i`` in base 26, so names and keys differ per row."""
    parts = [f"chr(65 + CAST(({i} // {26**k}) % 26 AS INTEGER))" for k in range(n)]
    return " || ".join(parts)


def upn_sql(i: str) -> str:
    """A valid permanent UPN for row ``i`` (unique for i below 10^9)."""
    body = f"({_la(i)} || lpad(CAST({i} AS VARCHAR), 9, '0'))"
    total = " + ".join(
        f"{pos} * CAST(substr({body}, {pos - 1}, 1) AS INTEGER)" for pos in range(2, 14)
    )
    return f"(substr({lit(UPN_LETTERS)}, (({total}) % 23) + 1, 1) || {body})"


def uln_sql(i: str) -> str:
    """A valid ULN for row ``i``, or NULL when its stem has no usable check digit."""
    stem = f"CAST(100000000 + {i} AS VARCHAR)"
    total = " + ".join(
        f"{10 - k} * CAST(substr({stem}, {k + 1}, 1) AS INTEGER)" for k in range(9)
    )
    r = f"(({total}) % 11)"
    digit = f"CAST(10 - {r} AS VARCHAR)"
    return f"CASE WHEN {r} IN (0, 1) THEN NULL ELSE {stem} || {digit} END"


def _code(item: Item, i: str) -> str:
    codes = item.codes
    assert codes is not None
    return (
        f"list_extract([{', '.join(lit(c) for c in codes.values)}], "
        f"({i} % {len(codes.values)}) + 1)"
    )


def _dob(ds: Dataset, i: str) -> str:
    """A date of birth that fits the dataset's year group on ``EVENT``."""
    if ds.year_group is not None:
        yg = _code(ds.item(ds.year_group), i)
        age = schoolyear.expected_age_sql(yg)
    elif ds.name == "qualifications":
        age = "16"
    else:
        age = f"(5 + {i} % 9)"
    # Born between 1 September and 31 August: age on 31 August of the start year.
    return (
        f"CAST(DATE '{EVENT.year - 1}-09-01' - INTERVAL ({age}) YEAR "
        f"+ INTERVAL ({i} % 365) DAY AS DATE)"
    )


def value_sql(ds: Dataset, item: Item, i: str) -> str:
    """SQL for a valid value of ``item`` in row ``i``, as text."""
    name = item.name
    if name == ds.event_date:
        return lit(EVENT.isoformat())
    if name == "date_of_birth":
        return f"CAST({_dob(ds, i)} AS VARCHAR)"
    if item.check == "upn":
        return upn_sql(i) if name == "upn" else "NULL"
    if item.check == "uln":
        return uln_sql(i)
    if item.check == "laestab":
        return f"{_la(i)} || lpad(CAST({i} % 10000 AS VARCHAR), 4, '0')"
    if item.check == "la_code":
        return _la(i)
    if item.check == "postcode":
        return (
            f"{_letters(i, 2)} || CAST(1 + ({i} // 676) % 9 AS VARCHAR) || ' ' "
            f"|| CAST(({i} // 6084) % 10 AS VARCHAR) || "
            f"{_letters(f'({i} // 60840)', 2)}"
        )
    if item.check == "name":
        return (
            f"'Name ' || {_letters(i, 5)}"
            if name == "parent_name"
            else f"'N' || lower({_letters(i, 6)})"
        )
    if item.check == "email":
        return f"'parent' || CAST({i} AS VARCHAR) || '@example.org'"
    if item.type == "code":
        return _code(item, i)
    if item.type == "date":
        return lit(date(EVENT.year - 1, 9, 1).isoformat())
    if item.type in ("integer", "decimal"):
        lo = item.minimum if item.minimum is not None else 0
        hi = item.maximum if item.maximum is not None else lo + 100
        if ds.name == "ks_results" and name == "academic_year":
            return lit(str(EVENT.year))
        return f"CAST({int(lo)} + {i} % {int(hi - lo) + 1} AS VARCHAR)"
    return f"left('Value ' || {_letters(i, 4)}, {item.max_length})"


def sample_sql(ds: Dataset, rows: int, start: int = 0) -> str:
    """A SELECT of ``rows`` valid rows of ``ds``, columns in file order, all text."""
    cols = ", ".join(
        f"{value_sql(ds, item, 'i')} AS {ident(item.name)}" for item in ds.collected
    )
    return f"SELECT {cols} FROM range({start}, {start + rows}) r(i)"


def write_sample(
    store: Store, ds: Dataset, path: Path, rows: int, start: int = 0
) -> Path:
    """Write a valid CSV file of ``ds`` with ``rows`` rows (header first)."""
    store.execute(
        f"COPY ({sample_sql(ds, rows, start)}) TO {lit(str(path))} "
        "(HEADER, DELIMITER ',', QUOTE '\"')"
    )
    return path
