"""The table plumbing of the nation: inputs, per-row randoms, columns, line numbers.

Builders make a view or table ``src_<dataset>`` with ``file``, ``person_id``, sort
columns and the dataset's catalogue columns as text (so a fault can write any text,
such as a 31 February); ``number`` turns it into ``out_<dataset>``, stored file by
file in line order, which the writer streams out.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from pupilshare import catalogue, growth
from pupilshare.synth import names
from pupilshare.synth.people import Spec, _thursday


def add_randoms(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rng: np.random.Generator,
    uniforms: int = 0,
    normals: int = 0,
) -> None:
    """Attach per-row random columns u0.., z0.. in the table's stored order."""
    n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    cols = {f"u{i}": rng.random(n) for i in range(uniforms)}
    cols.update({f"z{i}": rng.standard_normal(n) for i in range(normals)})
    con.register("_rand", pa.table(cols))
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} "
        "POSITIONAL JOIN _rand"
    )
    con.unregister("_rand")


def project(ds: str, exprs: dict[str, str]) -> str:
    """Catalogue columns of ``ds`` in file order, each cast to text."""
    cols = catalogue.dataset(ds).columns
    missing = set(cols) ^ set(exprs)
    if missing:
        raise ValueError(f"{ds}: columns do not match the catalogue: {sorted(missing)}")
    return ", ".join(f"CAST({exprs[c]} AS VARCHAR) AS {c}" for c in cols)


def register_inputs(con: duckdb.DuckDBPyConnection, spec: Spec, tables: dict) -> None:
    for name, table in tables.items():
        con.register(name, table)
    con.register(
        "nick",
        pa.table(
            {"formal": list(names.NICKNAMES), "nick": list(names.NICKNAMES.values())}
        ),
    )
    con.register(
        "adult_names",
        pa.table(
            {
                "i": np.arange(len(names.BOYS) + len(names.GIRLS)),
                "name": list(names.BOYS) + list(names.GIRLS),
            }
        ),
    )
    con.register(
        "surname_list",
        pa.table({"i": np.arange(len(names.SURNAMES)), "name": list(names.SURNAMES)}),
    )
    con.register(
        "streets",
        pa.table({"i": np.arange(len(names.STREETS)), "name": list(names.STREETS)}),
    )
    years = list(range(spec.first_year, spec.first_year + spec.years))
    con.register(
        "award_days",
        pa.table(
            {
                "ad_year": years * 2,
                "ad_type": ["ALEVEL"] * len(years) + ["GCSE"] * len(years),
                "award_date": pa.array(
                    [_thursday(y + 1, 8, 3) for y in years]
                    + [_thursday(y + 1, 8, 4) for y in years],
                    pa.date32(),
                ),
            }
        ),
    )
    con.register("growth_lms_arrow", growth.lms_table())


def dedupe(con: duckdb.DuckDBPyConnection, ds: str, order: str) -> None:
    """Drop rows that would repeat the dataset's unique key within a file (two
    different pupils who happen to share it), so only deliberate duplicates make a
    file faulty. Rows with a key item missing are kept: a missing UPN is no clash.
    Only datasets keyed on names need this; UPN and ULN keys are unique by design."""
    key = catalogue.dataset(ds).unique_key
    keep = " OR ".join(f"{k} IS NULL" for k in key)
    con.execute(f"""
    CREATE OR REPLACE TABLE dd_{ds} AS SELECT * FROM src_{ds}
    QUALIFY {keep} OR row_number() OVER (PARTITION BY file, {", ".join(key)}
                                         ORDER BY {order}, person_id) = 1""")
    con.execute(f"DROP VIEW src_{ds}")
    con.execute(f"ALTER TABLE dd_{ds} RENAME TO src_{ds}")


def number(
    con: duckdb.DuckDBPyConnection,
    ds: str,
    group: str,
    order: str,
    dups: bool = False,
    where: str = "true",
) -> None:
    """``out_<ds>``: one row per file line (line 2 is the first data row), stored
    file by file in line order. ``group`` identifies the file (integers are cheaper
    to sort than the file name); ``where`` takes a slice (a census term)."""
    rows = (
        f"(SELECT * FROM src_{ds} UNION ALL SELECT * FROM dup_{ds})"
        if dups
        else f"src_{ds}"
    )
    con.execute(f"""
    CREATE OR REPLACE TABLE out_{ds} AS
    SELECT * EXCLUDE (dup),
      row_number() OVER (PARTITION BY {group} ORDER BY {order}, person_id, dup) + 1
        AS line
    FROM {rows}
    WHERE {where}
    ORDER BY {group}, line""")
