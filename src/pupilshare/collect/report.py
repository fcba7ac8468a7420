"""The problem list of a collection run: a temp table, a CSV report and a rich table.

Every problem of every file in a run is kept in the engine (a run can have millions
of warnings), written as one CSV for the data operations team
(``file,line,field,severity,reason``) and shown on screen as at most ``SHOWN`` rows,
errors first, then a count of the rest.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.table import Table
from rich.text import Text

from pupilshare import csvsafe
from pupilshare.collect.read import Problem
from pupilshare.config import Home
from pupilshare.store import Store

PROBLEMS = "collect_problems"
SHOWN = 50

PROBLEMS_TABLE_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {PROBLEMS} (seq INTEGER, file VARCHAR, "
    "line BIGINT, field VARCHAR, severity VARCHAR, reason VARCHAR)"
)


def add_problems(store: Store, seq: int, problems: list[Problem]) -> None:
    """Record problems found outside the engine (bytes, header, reader rejects)."""
    if problems:
        store.con.executemany(
            f"INSERT INTO {PROBLEMS} VALUES (?, ?, ?, ?, ?, ?)",
            [(seq, p.file, p.line, p.field, p.severity, p.reason) for p in problems],
        )


def report_path(home: Home, label: str, started: datetime) -> Path:
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    return home.reports_dir / f"collect-{stamp}-{label}.csv"


def write_report_sql(path: Path) -> str:
    """The report as a CSV for people: file names and column names come from the
    submitter, so cells are neutralised against formula injection (``csvsafe``)."""
    columns = [
        ("file", "VARCHAR"),
        ("line", "INTEGER"),
        ("field", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("reason", "VARCHAR"),
    ]
    return csvsafe.copy_sql(
        columns,
        f"SELECT file, line, field, severity, reason FROM {PROBLEMS} "
        "ORDER BY seq, line, field",
        path,
    )


def write_report(store: Store, path: Path) -> bool:
    """Write the run's CSV report; False (and no file) when there were no problems."""
    if not store.one(f"SELECT count(*) FROM {PROBLEMS}"):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    store.execute(write_report_sql(path))
    return True


def first_problems(store: Store, limit: int = SHOWN) -> list[Problem]:
    """The first ``limit`` problems, errors before warnings, in file and line order."""
    rows = store.rows(
        f"SELECT file, line, field, severity, reason FROM {PROBLEMS} "
        "ORDER BY severity = 'warning', seq, line, field LIMIT ?",
        [limit],
    )
    return [Problem(*r) for r in rows]


def error_strings(store: Store, limit: int = 1000) -> list[str]:
    """Errors as ``file:line:field:reason``, for ``InvalidInput.errors``."""
    rows = store.rows(
        f"SELECT file, line, field, severity, reason FROM {PROBLEMS} "
        "WHERE severity = 'error' ORDER BY seq, line, field LIMIT ?",
        [limit],
    )
    return [str(Problem(*r)) for r in rows]


def counts(store: Store) -> tuple[int, int]:
    """(errors, warnings) in the run so far."""
    row = store.rows(
        f"SELECT count(*) FILTER (severity = 'error'), "
        f"count(*) FILTER (severity = 'warning') FROM {PROBLEMS}"
    )[0]
    return int(row[0]), int(row[1])


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def problem_table(problems: list[Problem], total: int) -> Table:
    """A rich table of problems; the caption says how many more are in the report."""
    table = Table(title="collection problems", show_lines=False)
    table.add_column("file:line", overflow="fold")
    table.add_column("field")
    table.add_column("severity")
    table.add_column("reason", overflow="fold")
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        # Text, not markup: a file name or reason may hold square brackets.
        table.add_row(
            Text(f"{p.file}:{p.line}"),
            Text(p.field),
            Text(p.severity, style=style),
            Text(p.reason),
        )
    if total > len(problems):
        table.caption = f"... and {total - len(problems):,} more in the CSV report"
    return table
