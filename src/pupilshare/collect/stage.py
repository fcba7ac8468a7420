"""Staging: many files of a dataset read by DuckDB in one pass, each row with its line.

Reading and validating a batch of files in one statement spreads the engine's fixed
cost per query (planning, compiling the rules' regular expressions) over the batch,
so hundreds of small returns cost little more than one large one; each file is still
accepted or rejected on its own. Rows keep their file (``seq``) and physical line:
normally the row's position in its file plus two (header = line 1), and where values
hold line breaks or the reader rejected lines, a per-file line map built with numpy.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from pupilshare.catalogue import Dataset
from pupilshare.collect import rules
from pupilshare.collect.read import FileCheck, Problem
from pupilshare.store import Store

RAW = "collect_raw"
POSITIONS = "collect_positions"
FILES = "collect_files"
LINES = "collect_lines"
REJECTS = "collect_rejects"
_GLOB = set("*?[]{}")


@dataclass
class Staged:
    """One staged file: its run sequence number, rows read and reader problems."""

    seq: int
    check: FileCheck
    rows: int
    problems: list[Problem]
    first_row: int = 0  # the row id of its first row in the staging table


@dataclass
class Batch:
    """A staged batch: its files and how to read their lines.

    ``to_line`` is SQL turning a rule's ``pos`` into a line; ``rows_sql`` selects
    one file's rows (``seq = $2``, first row id ``$3`` when ``mapped`` is False)
    with their ``line``, for the insert.
    """

    files: list[Staged]
    to_line: str
    rows_sql: str
    mapped: bool


def stage_batch(store: Store, ds: Dataset, batch: list[tuple[int, FileCheck]]) -> Batch:
    """Read ``batch`` (``(seq, check)`` pairs) into the staging table, with the
    ``collect_positions`` view (rows with a position ``pos``) for the rules."""
    for suffix in ("_errors", "_scans"):
        store.execute(f"DROP TABLE IF EXISTS {REJECTS}{suffix}")
    paths = [engine_file(fc, seq) for seq, fc in batch]
    seqs = [seq for seq, _ in batch]
    # The file's sequence number comes from the reader's file index as the read
    # streams in (an expression, not a join, so the rows keep their order).
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {RAW} AS SELECT CAST(list_extract("
        f"{_int_list(seqs)}, CAST(file_index AS BIGINT) + 1) AS INTEGER) AS seq, "
        "* EXCLUDE (file_index) FROM (" + rules.read_csv_sql(paths, ds, REJECTS) + ")"
    )
    by_seq = {
        seq: (int(first), int(n))
        for seq, first, n in store.rows(
            f"SELECT seq, min(rowid), count(*) FROM {RAW} GROUP BY seq"
        )
    }
    rejected = _reader_problems(store, dict(zip(paths, batch, strict=True)))
    staged, maps = [], []
    for path, (seq, fc) in zip(paths, batch, strict=True):
        first, rows = by_seq.get(seq, (0, 0))
        problems = rejected.get(path, [])
        record_lines = fc.newlines - 1 + (0 if fc.ends_with_newline else 1)
        if rows != record_lines or problems:
            blank = fc.blank_lines()
            problems += [
                Problem(fc.display, n, "", "warning", "blank line (skipped)")
                for n in blank
            ]
            skipped = {p.line for p in problems}
            if rows:
                maps.append(_line_map(store, ds, first, rows, skipped))
        if not rows and not problems:
            problems.append(
                Problem(fc.display, 1, "", "error", "no rows after the header")
            )
        staged.append(Staged(seq, fc, rows, problems, first))
    # Line = position in the file + 2, from the file's first row id (a constant list).
    firsts = [by_seq.get(seq, (0, 0))[0] for seq in seqs]
    line = (
        f"rowid - list_extract({_int_list(firsts)}, "
        f"list_position({_int_list(seqs)}, seq)) + 2"
    )
    rows_sql = (
        f"SELECT CAST(rowid - $3 + 2 AS INTEGER) AS line, * EXCLUDE (seq) "
        f"FROM {RAW} WHERE seq = $2"
    )
    # The rules see each row's position and turn it into a line only for rows with
    # a problem: computing the line of every row in every rule costs a third of
    # the validation of a large file.
    positions = f"SELECT seq, rowid AS pos, * EXCLUDE (seq) FROM {RAW}"
    to_line = line.replace("rowid", "pos")
    if maps:
        # Rare: values with line breaks, or rejected lines. Materialise the mapped
        # lines once, so the rules do not repeat the join.
        store.register("collect_lines_arrow", pa.concat_tables(maps))
        store.execute(
            f"CREATE OR REPLACE TEMP TABLE {LINES} AS SELECT r.seq, "
            "CAST(coalesce(m.line, r.rowid - list_extract("
            f"{_int_list(firsts)}, list_position({_int_list(seqs)}, r.seq)) + 2) "
            "AS INTEGER) AS line, r.* EXCLUDE (seq) "
            f"FROM {RAW} r LEFT JOIN collect_lines_arrow m ON m.row_id = r.rowid"
        )
        store.unregister("collect_lines_arrow")
        rows_sql = f"SELECT * EXCLUDE (seq) FROM {LINES} WHERE seq = $2"
        positions = f"SELECT seq, line AS pos, * EXCLUDE (seq, line) FROM {LINES}"
        to_line = "pos"
    store.execute(f"CREATE OR REPLACE TEMP VIEW {POSITIONS} AS {positions}")
    return Batch(staged, to_line, rows_sql, mapped=bool(maps))


def engine_file(fc: FileCheck, seq: int) -> str:
    """The path the engine reads for ``fc``: the file itself, or, when its line ends
    were rewritten (``lineends``), a private copy of the rewritten bytes."""
    if not fc.rewritten:
        return engine_path(fc.path, seq)
    copy = _links_dir() / f"lf-{seq}.csv"
    copy.unlink(missing_ok=True)
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(fc.data)
    return str(copy)


def _links_dir() -> Path:
    links = Path(tempfile.gettempdir()) / f"pupilshare-collect-{os.getpid()}"
    links.mkdir(mode=0o700, exist_ok=True)
    return links


def engine_path(path: Path, seq: int) -> str:
    """A path DuckDB reads as exactly this file: a name holding glob characters
    (``a[1].csv`` would match ``a1.csv``) is read through a plainly named link."""
    full = path.resolve()
    if not _GLOB.intersection(str(full)):
        return str(full)
    link = _links_dir() / f"file-{seq}.csv"
    link.unlink(missing_ok=True)
    link.symlink_to(full)
    return str(link)


def drop_links() -> None:
    """Remove the links ``engine_path`` made for this process."""
    links = Path(tempfile.gettempdir()) / f"pupilshare-collect-{os.getpid()}"
    if links.is_dir():
        for link in links.iterdir():
            link.unlink(missing_ok=True)
        links.rmdir()


def _int_list(values: list[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _reader_problems(
    store: Store, by_path: dict[str, tuple[int, FileCheck]]
) -> dict[str, list[Problem]]:
    """Lines the CSV reader could not read, one problem per line, by file path."""
    out: dict[str, list[Problem]] = {}
    rows = store.rows(
        "SELECT s.file_path, e.line_byte_position, arg_min(e.column_name, "
        "e.column_idx), e.error_type, any_value(e.error_message) "
        f"FROM {REJECTS}_errors e JOIN {REJECTS}_scans s USING (scan_id, file_id) "
        "GROUP BY 1, 2, 4 ORDER BY 1, 2"
    )
    for path, pos, col, kind, message in rows:
        fc = by_path[path][1]
        out.setdefault(path, []).append(
            Problem(
                fc.display,
                fc.line_of(int(pos)),
                str(col or ""),
                "error",
                reader_reason(str(kind), str(message)),
            )
        )
    return out


def _line_map(
    store: Store, ds: Dataset, first: int, rows: int, rejected_lines: set[int]
) -> pa.Table:
    """Physical lines of one file's rows when values hold line breaks or lines were
    rejected: each row starts after the previous row's breaks and any rejected line."""
    breaks = " + ".join(
        f"coalesce(length({rules.ident(c)}) - "
        f"length(replace({rules.ident(c)}, chr(10), '')), 0)"
        for c in ds.columns
    )
    got = store.con.execute(
        f"SELECT {breaks} AS n FROM {RAW} WHERE rowid BETWEEN ? AND ? ORDER BY rowid",
        [first, first + rows - 1],
    ).fetchnumpy()
    spans = np.asarray(got["n"], dtype=np.int64)
    lines = 2 + np.arange(rows, dtype=np.int64)
    lines[1:] += np.cumsum(spans)[:-1]
    for bad in sorted(rejected_lines):
        lines[lines >= bad] += 1
    return pa.table(
        {"row_id": np.arange(first, first + rows, dtype=np.int64), "line": lines}
    )


def reader_reason(kind: str, message: str) -> str:
    """The CSV reader's error in words a data manager can act on."""
    reasons = {
        "MISSING COLUMNS": "too few fields on this line (truncated line?)",
        "TOO MANY COLUMNS": "too many fields on this line (unquoted comma?)",
        "UNQUOTED VALUE": "quote not closed (an unclosed quote runs to the end)",
        "LINE SIZE OVER MAXIMUM": "line is longer than 1 MB",
        "INVALID UNICODE": "not valid UTF-8 text",
    }
    # The reader's own message is not shown: it may quote the line's values.
    return reasons.get(kind, f"cannot read this line ({kind.lower()})")


def unreadable_reason(error: Exception) -> str:
    """Why the engine could not read a whole file, without quoting any of its values
    (the engine's own message may hold a line of the file)."""
    text = str(error).lower()
    if "state machine" in text or "quote" in text:
        why = "its quoting or line ends do not follow the CSV standard (RFC 4180)"
    elif "unicode" in text or "utf" in text:
        why = "it is not valid UTF-8 text"
    else:
        why = "the CSV reader could not parse it"
    return f"cannot read this file as CSV: {why}; nothing was loaded from it"
