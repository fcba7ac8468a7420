"""The catalogue's rules as plain DuckDB checks, to test the nation's files.

Collection has its own validator; this small one reads the same catalogue so the
synthetic files can be tested on their own: every problem as (file, line, field,
reason).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from pupilshare import catalogue, identifiers, schoolyear

LA_LIST = ", ".join(f"'{n}'" for n in sorted(identifiers.LA_NUMBERS))
PATTERNS = {
    "postcode": "[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}",
    "laestab": "[0-9]{7}",
    "la_code": "[0-9]{3}",
    "name": "\\pL[\\pL'' -]*",
    "email": "[a-z0-9._-]+@[a-z0-9.-]+\\.[a-z]+",
}


def _checks(ds: catalogue.Dataset, today: date) -> list[tuple[str, str]]:
    """(field, SQL giving a reason or NULL) for each rule of each item."""
    out: list[tuple[str, str]] = []
    for it in ds.collected:
        c = it.name
        if it.required:
            out.append((c, f"CASE WHEN {c} IS NULL THEN 'required' END"))
        if it.codes is not None:
            codes = ", ".join(f"'{v}'" for v in it.codes.values)
            out.append(
                (c, f"CASE WHEN {c} NOT IN ({codes}) THEN 'not in code set' END")
            )
        if it.type == "date":
            out.append(
                (
                    c,
                    f"CASE WHEN {c} IS NOT NULL AND try_cast({c} AS DATE) IS NULL "
                    f"THEN 'not a date' WHEN try_cast({c} AS DATE) > "
                    f"DATE '{today}' THEN 'future date' END",
                )
            )
        if it.type in ("integer", "decimal"):
            num = f"try_cast({c} AS DOUBLE)"
            out.append(
                (
                    c,
                    f"CASE WHEN {c} IS NOT NULL AND {num} IS NULL THEN "
                    "'not a number' "
                    f"WHEN {num} < {it.minimum if it.minimum is not None else -1e18}"
                    f" OR {num} > {it.maximum if it.maximum is not None else 1e18}"
                    " THEN 'out of range' END",
                )
            )
        if it.type in ("text", "code"):
            out.append(
                (c, f"CASE WHEN length({c}) > {it.max_length} THEN 'too long' END")
            )
        if it.check == "upn":
            out.append((c, identifiers.upn_problem_sql(c)))
        elif it.check == "uln":
            out.append((c, identifiers.uln_problem_sql(c)))
        elif it.check in PATTERNS:
            out.append(
                (
                    c,
                    f"CASE WHEN NOT regexp_full_match({c}, "
                    f"'{PATTERNS[it.check]}') THEN 'bad {it.check}' END",
                )
            )
        if it.check == "laestab":
            out.append(
                (
                    c,
                    f"CASE WHEN substr({c}, 1, 3) NOT IN ({LA_LIST}) "
                    "THEN 'not an LA number' END",
                )
            )
    if ds.year_group and ds.event_date:
        ev, dob = (
            f"try_cast({ds.event_date} AS DATE)",
            "try_cast(date_of_birth AS DATE)",
        )
        age = schoolyear.age_on_31_august_sql(dob, ev)
        want = schoolyear.expected_age_sql(ds.year_group)
        out.append(
            (ds.year_group, f"CASE WHEN {age} <> {want} THEN 'age does not fit' END")
        )
    if "date_of_birth" in ds and ds.event_date:
        out.append(
            (
                "date_of_birth",
                f"CASE WHEN try_cast(date_of_birth AS DATE) >= "
                f"try_cast({ds.event_date} AS DATE) THEN 'born after event' END",
            )
        )
    return out


def read_rows(nation: Path, files: list[str]) -> pa.Table | None:
    """Rows of ``files`` (all of one dataset) with file and physical line, read with
    the csv module so line numbers never depend on a reader's scan order; None if
    a header differs between the files."""
    cols: dict[str, list] = {}
    header0: list[str] | None = None
    for rel in files:
        with (nation / rel).open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            if header0 is None:
                header0 = header
                cols = {c: [] for c in ["file", "line", *header]}
            elif header != header0:
                return None
            for i, row in enumerate(reader, start=2):
                cols["file"].append(rel)
                cols["line"].append(i)
                for c, v in zip(header, row, strict=True):
                    cols[c].append(v or None)
    return pa.table(
        {
            c: pa.array(v, pa.int64() if c == "line" else pa.string())
            for c, v in cols.items()
        }
    )


def problems(
    nation: Path,
    ds_name: str,
    files: list[str] | None = None,
    today: date | None = None,
) -> list[tuple[str, int, str, str]]:
    """Every rule broken in the dataset's files (or just ``files``)."""
    ds = catalogue.dataset(ds_name)
    paths = files or sorted(
        str(p.relative_to(nation)) for p in (nation / ds_name).glob("*.csv")
    )
    rows = read_rows(nation, paths)
    if rows is None or rows.column_names[2:] != ds.columns:
        return [(paths[0], 1, "*", "header differs from the catalogue")]
    con = duckdb.connect()
    con.register("f", rows)
    found: list[tuple[str, int, str, str]] = []
    for field, sql in _checks(ds, today or date.today()):
        found += [
            (f, line, field, reason)
            for f, line, reason in con.execute(
                f"SELECT file, line, r FROM (SELECT file, line, {sql} AS r FROM f) "
                "WHERE r IS NOT NULL ORDER BY file, line"
            ).fetchall()
        ]
    if ds.unique_key:
        key = ", ".join(["file", *ds.unique_key])
        nn = " AND ".join(f"{k} IS NOT NULL" for k in ds.unique_key)
        found += [
            (f, line, key, "duplicate")
            for f, line in con.execute(
                f"SELECT file, line FROM f WHERE {nn} QUALIFY count(*) OVER "
                f"(PARTITION BY {key}) > 1 ORDER BY file, line"
            ).fetchall()
        ]
    return found
