"""Writing the nation's files: one CSV per return, the truth file and the manifest.

Rows arrive from DuckDB sorted by file and line as a stream of Arrow batches; each
run of rows for one file is written with Arrow's CSV writer, so the cost is per file
and per byte, never per row, and the truth file's line numbers are exactly the
physical lines written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pupilshare import catalogue

# Values never hold commas, quotes or line breaks; the writer refuses any that do.
_BODY = pacsv.WriteOptions(include_header=False, quoting_style="none")


def _header(table: pa.Table | pa.RecordBatch) -> bytes:
    return (",".join(table.schema.names) + "\n").encode()


BATCH_ROWS = 250_000


def write_table(table: pa.Table, path: Path) -> None:
    """One whole table to one CSV (the reference files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(_header(table))
        pacsv.write_csv(table, fh, _BODY)


def _check_order(ds: str, lines: np.ndarray, cuts: np.ndarray) -> None:
    """The table was stored in file and line order; prove the scan kept it."""
    ok = np.diff(lines) == 1
    ok[cuts - 1] = lines[cuts] == 2
    if not ok.all():
        raise RuntimeError(f"{ds}: rows came back out of line order")


def write_dataset(
    con: duckdb.DuckDBPyConnection, ds: str, out: Path, tick: Callable[[int], None]
) -> dict[str, int]:
    """Write every file of ``out_<ds>``; returns rows per file (relative path)."""
    cols = ", ".join(catalogue.dataset(ds).columns)
    reader = con.sql(f"SELECT file, line, {cols} FROM out_{ds}").to_arrow_reader(
        BATCH_ROWS
    )
    counts: dict[str, int] = {}
    current: str | None = None
    fh = None
    try:
        for batch in reader:
            files = np.asarray(batch.column(0).to_numpy(zero_copy_only=False))
            lines = batch.column(1).to_numpy()
            data = batch.select(list(range(2, batch.num_columns)))
            cuts = np.flatnonzero(files[1:] != files[:-1]) + 1
            _check_order(ds, lines, cuts)
            bounds = np.r_[0, cuts, len(files)].tolist()
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                name = str(files[a])
                header = name != current
                if header and lines[a] != 2:
                    raise RuntimeError(f"{ds}: {name} does not start at line 2")
                if header:
                    if name in counts:
                        raise RuntimeError(f"{ds}: rows of {name} are not together")
                    if fh is not None:
                        fh.close()
                        tick(1)
                    path = out / name
                    path.parent.mkdir(parents=True, exist_ok=True)
                    fh = path.open("wb")
                    fh.write(_header(data))
                    current = name
                pacsv.write_csv(data.slice(a, b - a), fh, _BODY)
                counts[name] = counts.get(name, 0) + (b - a)
    finally:
        if fh is not None:
            fh.close()
            tick(1)
    return counts


def write_truth(
    con: duckdb.DuckDBPyConnection, sources: dict[str, str], path: Path
) -> int:
    """``truth.csv``: dataset, file, line, person_id for every data row; ``sources``
    names the table holding each dataset's (file, line, person_id)."""
    union = " UNION ALL ".join(
        f"SELECT '{ds}' AS dataset, file, line, person_id FROM {table}"
        for ds, table in sources.items()
    )
    con.execute(
        f"COPY (SELECT * FROM ({union}) ORDER BY dataset, file, line) "
        f"TO '{path}' (FORMAT csv, HEADER)"
    )
    return sum(
        con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        for table in sources.values()
    )


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
