"""Generic two-file linkage: the same model on any two files of people.

Input columns ``id, forename, surname, dob (YYYY-MM-DD), sex, postcode`` and an
optional ``upn``; output ``left_id, right_id, match_probability``, one row per pair
scored at or above the threshold. The model is trained on the two files together
(u by random sampling, m by EM), so anyone can score the linker on labelled data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from pupilshare import csvsafe
from pupilshare.errors import InvalidInput
from pupilshare.match.records import _name_sql, postcode_sql, splink_input_sql

REQUIRED = ("id", "forename", "surname", "dob", "sex", "postcode")


def _read_sql(path: Path, side: str, has_upn: bool) -> str:
    upn = "nullif(upper(trim(upn)), '')" if has_upn else "NULL::VARCHAR"
    return f"""
    (SELECT '{side}' || id AS unique_id, {_name_sql("forename")} AS forename,
        {_name_sql("surname")} AS surname, NULL::VARCHAR AS former_surname,
        try_cast(dob AS DATE) AS date_of_birth,
        upper(sex) AS sex, {postcode_sql("postcode")} AS postcode,
        {upn} AS upn, NULL::VARCHAR AS former_upn
     FROM read_csv('{path}', all_varchar = true, header = true))
    """


def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    if not path.exists():
        raise InvalidInput(f"no such file: {path}")
    rel = con.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true) LIMIT 0")
    cols = [c.lower() for c in rel.columns]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise InvalidInput(f"{path.name} lacks columns: {', '.join(missing)}")
    return cols


def link_files(left: Path, right: Path, out: Path, threshold: float = 0.9) -> int:
    """Write predicted matches between two files to ``out``; how many."""
    if not 0 < threshold < 1:
        raise InvalidInput("threshold must be between 0 and 1")
    con = duckdb.connect()
    try:
        lcols, rcols = _columns(con, left), _columns(con, right)
        lt = con.sql(splink_input_sql(_read_sql(left, "l", "upn" in lcols)))
        rt = con.sql(splink_input_sql(_read_sql(right, "r", "upn" in rcols)))
        lt, rt = lt.to_arrow_table(), rt.to_arrow_table()
    finally:
        con.close()
    # imported here to save start-up time: Splink loads only when files are linked
    from pupilshare.match.model import DEFAULT_MODEL, Model

    both = pa.concat_tables([lt, rt])
    model = Model(both)
    if not model.try_train():  # too few people to estimate from
        model.close()
        model = Model(both, DEFAULT_MODEL)
    try:
        model.tf_tables()
        pairs = model.between(lt, rt, threshold)
    finally:
        model.close()
    con = duckdb.connect()
    try:
        con.register("pairs", pairs)
        # ids come from the input files: written formula-safe (``csvsafe``)
        con.execute(csvsafe.copy_sql(
            [("left_id", "VARCHAR"), ("right_id", "VARCHAR"),
             ("match_probability", "DOUBLE")],
            "SELECT substr(unique_id_l, 2) AS left_id, "
            "substr(unique_id_r, 2) AS right_id, round(match_probability, 6) "
            "AS match_probability FROM pairs ORDER BY left_id, right_id",
            Path(out),
        ))  # fmt: skip
    finally:
        con.close()
    return pairs.num_rows
