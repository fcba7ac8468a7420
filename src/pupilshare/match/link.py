"""Generic two-file linkage: any two files of people, a model fitted to them.

Input: CSV (UTF-8) with ``id, forename, surname, dob`` and, where known,
``postcode``, ``sex`` and ``upn``. Output: ``left_id, right_id, match_probability``,
one row per pair scored at or above the threshold. The model (``linkmodel.py``) is
trained on the two files themselves, so anyone can score it on labelled data.

A file is checked whole before any linking: the required columns, text that
decodes as UTF-8, and ids present and unique. A fault stops the run with the file
and the fault named (``file:line:field:reason``), and nothing is written to the
output; the output is written beside its destination and moved into place only
when complete.

The files are checked and prepared in DuckDB, where they are (local files, as a
release's staging files are); the model is fitted and the pairs scored by Splink on
the chosen engine (``--engine``, ``$PUPILSHARE_ENGINE``: DuckDB, or Spark), which
give the same pairs (``linkmodel``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pupilshare import csvsafe
from pupilshare.errors import InvalidInput
from pupilshare.match.records import _name_sql

REQUIRED = ("id", "forename", "surname", "dob")
OPTIONAL = ("postcode", "sex", "upn")
# A column filled in fewer than this share of either file's records tells the model
# too little to estimate from (an empty sex column): it is ignored, and said so.
MIN_FILLED = 0.5
# Faults listed per file before stopping.
MAX_ERRORS = 20


LINK_INTRO = (
    "Splink's charts of the Fellegi-Sunter model link fitted to these two files: "
    "the partial match weight of each comparison level (log2 of m/u) and the m and "
    "u probabilities behind them. Drawn without network access; each chart's "
    "Vega-Lite spec follows it as JSON."
)


@dataclass
class LinkResult:
    pairs: int
    used: list[str]
    ignored: dict[str, str]
    fitted: bool
    explanation: dict[str, Any] | None = None
    charts: list[Path] = field(default_factory=list)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def check_text(path: Path) -> None:
    """The file exists, is not empty and is UTF-8 text (a byte-order mark allowed):
    else an error naming the file, the line and the first undecodable byte."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    data = path.read_bytes()
    if not data.strip():
        raise InvalidInput(f"{path}:1::the file is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InvalidInput(
            f"{path}:{line}::not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
            f"{e.start}); save the file as UTF-8 and try again",
            [f"{path}:{line}::not UTF-8 text"],
        ) from None


def read_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """The header's columns, lower-cased; an error naming any required one missing."""
    try:
        rel = con.sql(
            f"SELECT * FROM read_csv('{_sql_path(path)}', all_varchar = true, "
            "header = true) LIMIT 0"
        )
    except duckdb.Error as e:
        raise InvalidInput(
            f"{path}:1::not a readable CSV file ({type(e).__name__})"
        ) from None
    cols = [c.strip().lower() for c in rel.columns]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise InvalidInput(
            f"{path}:1::lacks required columns: {', '.join(missing)} (needs "
            f"{', '.join(REQUIRED)}; may have {', '.join(OPTIONAL)})",
            [f"{path}:1:{c}:required column missing" for c in missing],
        )
    return cols


def _raw_sql(path: Path, cols: list[str]) -> str:
    """The file's rows with a line number (the header is line 1), columns by their
    lower-case names, absent optional columns as NULL."""
    names = {c: c for c in cols}
    pick = ", ".join(
        f'"{names[c]}" AS {c}' if c in names else f"NULL::VARCHAR AS {c}"
        for c in (*REQUIRED, *OPTIONAL)
    )
    return (
        f"SELECT row_number() OVER () + 1 AS line, {pick} FROM read_csv("
        f"'{_sql_path(path)}', all_varchar = true, header = true, "
        f"normalize_names = false)"
    )


def check_ids(con: duckdb.DuckDBPyConnection, path: Path, raw: str) -> None:
    """Every record has an id and no id is used twice: else the lines at fault."""
    rows = con.execute(f"""
        WITH r AS ({raw}), t AS (SELECT line, trim(id) AS id FROM r)
        SELECT line, 'id missing' FROM t WHERE id IS NULL OR id = ''
        UNION ALL
        SELECT line, 'id used on line ' || first_line || ' too' FROM (
            SELECT line, min(line) OVER (PARTITION BY id) AS first_line FROM t
            WHERE id <> '')
        WHERE line <> first_line
        ORDER BY 1 LIMIT {MAX_ERRORS}""").fetchall()
    if rows:
        errors = [f"{path}:{line}:id:{why}" for line, why in rows]
        raise InvalidInput(
            f"{path}: ids must be present and unique; {len(errors)} "
            f"fault{'s' if len(errors) > 1 else ''} (first: line {rows[0][0]}, "
            f"{rows[0][1]})",
            errors,
        )


def dob_text_sql(col: str) -> str:
    """The date as typed, as YYYY-MM-DD text where its shape allows (ISO, UK
    DD/MM/YYYY, YYYYMMDD), valid or not: a month 13 is kept to compare as text."""
    s = f"regexp_replace(trim({col}), '[.\\s]', '/', 'g')"
    return f"""nullif(CASE
        WHEN regexp_matches({s}, '^\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}$') THEN
            split_part({s}, '-', 1) || '-' || lpad(split_part({s}, '-', 2), 2, '0')
            || '-' || lpad(split_part({s}, '-', 3), 2, '0')
        WHEN regexp_matches({s}, '^\\d{{1,2}}[/-]\\d{{1,2}}[/-]\\d{{4}}$') THEN
            regexp_extract({s}, '(\\d{{4}})$') || '-' ||
            lpad(regexp_extract({s}, '^\\d{{1,2}}[/-](\\d{{1,2}})', 1), 2, '0') || '-'
            || lpad(regexp_extract({s}, '^(\\d{{1,2}})', 1), 2, '0')
        WHEN regexp_matches({s}, '^\\d{{8}}$') THEN
            substr({s}, 1, 4) || '-' || substr({s}, 5, 2) || '-' || substr({s}, 7, 2)
        ELSE upper({s}) END, '')"""


UK_POSTCODE = "^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
UK_OUTWARD = "^[A-Z]{1,2}[0-9][A-Z0-9]?$"


def _prepared_sql(raw: str, side: str) -> str:
    """Splink input: names as letters, the date as text and as a date, the postcode
    as typed (letters and digits) with its UK sector and outward code where it is
    UK shaped, forename roots (the name and every name it is a nickname of)."""
    pc = "nullif(regexp_replace(upper(postcode), '[^A-Z0-9]', '', 'g'), '')"
    return f"""
    WITH r AS ({raw}), c AS (
        SELECT line, trim(id) AS id, {_name_sql("forename")} AS forename,
            {_name_sql("surname")} AS surname, {dob_text_sql("dob")} AS dob_s,
            {pc} AS pc,
            CASE WHEN upper(trim(sex)) IN ('M', 'MALE', '1') THEN 'M'
                 WHEN upper(trim(sex)) IN ('F', 'FEMALE', '2') THEN 'F' END AS sex,
            nullif(upper(trim(upn)), '') AS upn
        FROM r)
    SELECT '{side}' || id AS unique_id, forename, surname, dob_s,
        try_cast(dob_s AS DATE) AS date_of_birth,
        CASE WHEN regexp_matches(pc, '{UK_POSTCODE}')
             THEN substr(pc, 1, length(pc) - 3) || ' ' || right(pc, 3)
             ELSE pc END AS postcode,
        CASE WHEN regexp_matches(pc, '{UK_POSTCODE}')
             THEN substr(pc, 1, length(pc) - 3) || ' ' || substr(right(pc, 3), 1, 1)
             END AS pc_sector,
        CASE WHEN regexp_matches(pc, '{UK_POSTCODE}') THEN substr(pc, 1, length(pc) - 3)
             WHEN regexp_matches(pc, '{UK_OUTWARD}') THEN pc END AS pc_outward,
        list_distinct(list_append(coalesce(n.roots, []), forename)) AS forename_roots,
        -- a double-barrelled surname's parts, when it has more than one
        CASE WHEN regexp_matches(surname, '[- ]')
             THEN regexp_split_to_array(surname, '[- ]+') END AS surname_parts,
        sex, upn
    FROM c LEFT JOIN (
        SELECT upper(name2) AS nick, list(upper(name1)) AS roots FROM nicknames
        GROUP BY ALL) n ON n.nick = c.forename
    """


def _load_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    import nicknames

    with nicknames.with_names_csv_path() as path:
        con.execute(
            "CREATE TABLE nicknames AS SELECT name1, name2 FROM read_csv(?, "
            "header = true, all_varchar = true) WHERE relationship = 'has_nickname'",
            [str(path)],
        )


def _columns_used(
    con: duckdb.DuckDBPyConnection, cols: dict[str, list[str]], n: dict[str, int]
) -> tuple[list[str], list[str], dict[str, str]]:
    """(columns compared, optional columns the model uses, ignored with why)."""
    used = ["forename", "surname", "dob"]
    extra: list[str] = []
    ignored: dict[str, str] = {}
    for col in OPTIONAL:
        absent = [s for s in ("left", "right") if col not in cols[s]]
        if absent:
            ignored[col] = f"not in the {' and '.join(absent)} file"
            continue
        filled = {
            s: con.execute(f"SELECT count({col}) FROM prep_{s}").fetchall()[0][0] / n[s]
            for s in ("left", "right")
        }
        low = [s for s, f in filled.items() if f < MIN_FILLED]
        if low:
            ignored[col] = (
                "filled in "
                + ", ".join(f"{filled[s]:.0%} of the {s} file" for s in low)
                + f" (under {MIN_FILLED:.0%}: too little to learn from)"
            )
            continue
        used.append(col)
        if col != "postcode":
            extra.append(col)
    for s in ("left", "right"):
        for c in cols[s]:
            if c not in (*REQUIRED, *OPTIONAL) and c not in ignored:
                ignored[c] = "not a person field link compares"
    return used, extra, ignored


def _prepare(
    con: duckdb.DuckDBPyConnection, left: Path, right: Path
) -> tuple[list[str], list[str], dict[str, str]]:
    """Check both files, then create ``prep_left`` and ``prep_right``."""
    cols, n = {}, {}
    for side, path in (("left", left), ("right", right)):
        check_text(path)
        cols[side] = read_columns(con, path)
        raw = _raw_sql(path, cols[side])
        check_ids(con, path, raw)
        con.execute(f"CREATE TABLE prep_{side} AS {_prepared_sql(raw, side[0])}")
        rows = con.execute(f"SELECT count(*) FROM prep_{side}").fetchall()[0][0]
        n[side] = max(rows, 1)
    return _columns_used(con, cols, n)


def _table(con: duckdb.DuckDBPyConnection, side: str, extra: list[str]) -> pa.Table:
    base = (
        "unique_id, forename, surname, dob_s, date_of_birth, postcode, "
        "pc_sector, pc_outward, forename_roots, surname_parts"
    )
    more = "".join(f", {c}" for c in extra)
    return con.sql(f"SELECT {base}{more} FROM prep_{side}").to_arrow_table()


def _record(table: pa.Table, unique_id: str, path_side: str, given: str) -> dict:
    import pyarrow.compute as pc

    rows = table.filter(pc.equal(table["unique_id"], unique_id)).to_pylist()
    if not rows:
        raise InvalidInput(
            f"--explain: no record with id {given!r} in the {path_side} file"
        )
    return rows[0]


def link_files(
    left: Path,
    right: Path,
    out: Path,
    threshold: float = 0.9,
    *,
    charts: Path | None = None,
    explain: tuple[str, str] | None = None,
    engine_name: str | None = None,
) -> LinkResult:
    """Write predicted matches between two files to ``out``; what was used. Splink
    runs on ``engine_name`` (else ``$PUPILSHARE_ENGINE``, else DuckDB)."""
    if not 0 < threshold < 1:
        raise InvalidInput("threshold must be between 0 and 1")
    if out.exists() and out.is_dir():
        raise InvalidInput(f"--out {out} is a directory")
    con = duckdb.connect()
    try:
        _load_nicknames(con)
        used, extra, ignored = _prepare(con, Path(left), Path(right))
        lt, rt = _table(con, "left", extra), _table(con, "right", extra)
    finally:
        con.close()
    # imported here to save start-up time: Splink loads only when files are linked
    from pupilshare.match.linkmodel import LinkModel

    model = LinkModel(lt, rt, extra, engine_name)
    try:
        fitted = model.fit()
        pairs = model.predict(threshold)
        explanation = None
        if explain:
            explanation = model.explain(
                _record(lt, "l" + explain[0], "left", explain[0]),
                _record(rt, "r" + explain[1], "right", explain[1]),
            )
        written: list[Path] = []
        if charts is not None:
            from pupilshare.match.charts import write_charts

            written = write_charts(model, charts, LINK_INTRO)
    finally:
        model.close()
    _write_pairs(pairs, out)
    return LinkResult(pairs.num_rows, used, ignored, fitted, explanation, written)


def _write_pairs(pairs: pa.Table, out: Path) -> None:
    """The pairs CSV, written beside ``out`` and moved into place when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    con = duckdb.connect()
    try:
        con.register("pairs", pairs)
        # link_only pairs come with either file on the left; ids come from the
        # input files: written formula-safe (``csvsafe``)
        con.execute(
            csvsafe.copy_sql(
                [
                    ("left_id", "VARCHAR"),
                    ("right_id", "VARCHAR"),
                    ("match_probability", "DOUBLE"),
                ],
                "SELECT CASE WHEN unique_id_l LIKE 'l%' THEN substr(unique_id_l, 2) "
                "ELSE substr(unique_id_r, 2) END AS left_id, "
                "CASE WHEN unique_id_l LIKE 'l%' THEN substr(unique_id_r, 2) "
                "ELSE substr(unique_id_l, 2) END AS right_id, "
                "round(match_probability, 6) AS match_probability FROM pairs "
                "ORDER BY left_id, right_id",
                Path(tmp),
            )
        )
        os.replace(tmp, out)
    finally:
        con.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
