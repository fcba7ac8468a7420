"""CSV for people: every CSV pupilshare writes for someone to open (release files,
the public register, collection reports) is safe in a spreadsheet and exact.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a
NUL is run as a formula by Excel, LibreOffice and Google Sheets (CSV or "formula"
injection: ``=HYPERLINK(...)`` in a pupil's name, a register title starting with
``=``). Following OWASP's CSV Injection guidance (and ASVS 1.2.10), such a text
cell is written with a single quote in front, every cell is wrapped in double
quotes and an embedded double quote is doubled (RFC 4180 2.6-2.7).

The prefix is reversible, so no value is lost: a text cell that already begins with
a single quote gets one more. To read a value back exactly, drop one leading single
quote from any text cell that starts with one (``restore``). Numbers and dates are
not text cells and are written as they are (a negative number stays a number).
Parquet files are never changed: they hold every value byte for byte.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# OWASP's list (= + - @ tab CR), ASVS's NUL, and the quote that makes it reversible.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "'")
PREFIX = "'"
RULE = (
    "CSV files: a text cell starting with = + - @ tab, carriage return, NUL or ' "
    "has a ' put in front (OWASP CSV injection guidance) so a spreadsheet never "
    "runs it as a formula; every cell is double-quoted (RFC 4180). To get a value "
    "back exactly, remove one leading ' from a text cell that starts with one. "
    "The Parquet files hold every value unchanged."
)
_TEXT_TYPES = ("VARCHAR", "TEXT", "STRING")


def neutralise(value: Any) -> Any:
    """The cell to write for ``value``: text starting with a trigger is prefixed."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return PREFIX + value
    return value


def restore(cell: str) -> str:
    """The value a neutralised text cell stands for (the inverse of ``neutralise``)."""
    return cell[1:] if cell.startswith(PREFIX) else cell


def write_rows(
    path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    """Write dict rows as a neutralised CSV: every cell quoted, text made safe."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([neutralise(_text(row.get(c))) for c in columns])


def _text(value: Any) -> Any:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_text(sql_type: str) -> bool:
    return sql_type.upper().startswith(_TEXT_TYPES)


def cell_sql(name: str, sql_type: str) -> str:
    """The neutralised cell of one column, in DuckDB SQL."""
    col = _ident(name)
    if not is_text(sql_type):
        return col
    # regexp class of the triggers: = + - @ tab CR NUL '
    pattern = "^[=+@\\t\\r\\x00'-]"
    return (
        f"CASE WHEN regexp_matches({col}, {_lit(pattern)}) "
        f"THEN {_lit(PREFIX)} || {col} ELSE {col} END AS {col}"
    )


def copy_sql(columns: Sequence[tuple[str, str]], source_sql: str, dest: Path) -> str:
    """COPY ``source_sql`` (columns ``(name, type)``) to a neutralised CSV at
    ``dest``: text cells prefixed where needed, every cell double-quoted (so a
    spreadsheet using ``;`` as its separator cannot split one into a formula)."""
    cells = ", ".join(cell_sql(n, t) for n, t in columns)
    return (
        f"COPY (SELECT {cells} FROM ({source_sql})) TO {_lit(str(dest))} "
        "(HEADER, DELIMITER ',', QUOTE '\"', ESCAPE '\"', FORCE_QUOTE *)"
    )


def read_sql(path: Path, names: Sequence[str]) -> str:
    """Read a CSV this module wrote, every column as text, with its dialect stated
    (never sniffed: a sniffer guesses wrong on quotes and line breaks in values)."""
    cols = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
    return (
        f"read_csv({_lit(str(path))}, header = true, auto_detect = false, "
        f"delim = ',', quote = '\"', escape = '\"', columns = {cols}, "
        "strict_mode = true, null_padding = false)"
    )


def header(path: Path) -> list[str]:
    """The column names of a CSV file (its first record, quotes understood)."""
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])
