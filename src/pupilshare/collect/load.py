"""Collecting files: stage each one in the engine, validate it, load it all or nothing.

One ``Collector`` is one run over one store connection. For each file it checks the
bytes (``read``), reads the CSV into a text staging table, finds every problem with
one SQL statement (``rules``) and then, inside one ``Store.transaction()``, either
records a rejection or writes the collection row, the typed rows and the warnings. A
file whose SHA-256 is already collected is skipped: a return loads once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from pupilshare.catalogue import Dataset
from pupilshare.collect import report, rules
from pupilshare.collect.read import FileCheck, Problem, check_file
from pupilshare.config import Home
from pupilshare.store import Store

RAW = "collect_raw"
STAGE = "collect_stage"
REJECTS = "collect_rejects"
FILE_PROBLEMS = "collect_file_problems"


@dataclass
class FileOutcome:
    """What happened to one file: ``loaded``, ``rejected`` or ``duplicate``."""

    file: str
    dataset: str
    status: str
    rows: int = 0
    warnings: int = 0
    errors: int = 0
    collection_id: int | None = None


@dataclass
class RunResult:
    outcomes: list[FileOutcome] = field(default_factory=list)
    report_path: Path | None = None
    errors: int = 0
    warnings: int = 0
    shown: list[Problem] = field(default_factory=list)  # the first few, errors first
    error_lines: list[str] = field(default_factory=list)  # file:line:field:reason

    def of(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.of("loaded"))


class Collector:
    """A collection run: files in, collections or rejections out, one report."""

    def __init__(self, store: Store, home: Home, label: str = "run") -> None:
        self.store = store
        self.home = home
        self.started = datetime.now(UTC)
        self.report_path = report.report_path(home, label, self.started)
        self.result = RunResult()
        for sql in rules.STORE_TABLES_SQL:
            store.execute(sql)
        store.execute(report.PROBLEMS_TABLE_SQL)

    # -- one file ---------------------------------------------------------------
    def collect(
        self, ds: Dataset, path: Path, display: str | None = None
    ) -> FileOutcome:
        """Validate and load one file of dataset ``ds``; never raises for bad input."""
        seq = len(self.result.outcomes)
        received = datetime.now(UTC).replace(tzinfo=None)
        fc = check_file(path, ds, display)
        already = self.store.one(
            "SELECT collection_id FROM collections WHERE sha256 = ?", [fc.sha256]
        )
        if already is not None:
            out = FileOutcome(fc.display, ds.name, "duplicate", collection_id=already)
            return self._done(out)
        problems = list(fc.problems)
        rows = 0
        if fc.readable:
            rows, reader_problems = self._stage(ds, fc)
            problems += reader_problems
            self.store.execute(
                f"CREATE OR REPLACE TEMP TABLE {FILE_PROBLEMS} AS "
                + rules.problems_sql(ds, STAGE, received.date())
            )
        else:
            self.store.execute(
                f"CREATE OR REPLACE TEMP TABLE {FILE_PROBLEMS} "
                "(line BIGINT, field VARCHAR, severity VARCHAR, reason VARCHAR)"
            )
        report.add_problems(self.store, seq, problems)
        self.store.execute(
            f"INSERT INTO {report.PROBLEMS} SELECT ?, ?, line, field, severity, "
            f"reason FROM {FILE_PROBLEMS}",
            [seq, fc.display],
        )
        errors, warnings = self.store.rows(
            f"SELECT count(*) FILTER (severity = 'error'), "
            f"count(*) FILTER (severity = 'warning') FROM {report.PROBLEMS} "
            "WHERE seq = ?",
            [seq],
        )[0]
        if errors:
            self._reject(ds, fc, received, errors)
            out = FileOutcome(fc.display, ds.name, "rejected", rows, warnings, errors)
        else:
            cid = self._load(ds, fc, received, rows, warnings)
            out = FileOutcome(fc.display, ds.name, "loaded", rows, warnings, 0, cid)
        return self._done(out)

    def _done(self, out: FileOutcome) -> FileOutcome:
        self.result.outcomes.append(out)
        self.result.errors += out.errors
        self.result.warnings += out.warnings
        return out

    def _stage(self, ds: Dataset, fc: FileCheck) -> tuple[int, list[Problem]]:
        """Read the file into the staging view; return its rows and reader problems."""
        for suffix in ("_errors", "_scans"):
            self.store.execute(f"DROP TABLE IF EXISTS {REJECTS}{suffix}")
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE {RAW} AS "
            + rules.read_csv_sql(str(fc.path), ds, REJECTS)
        )
        rejected = self.store.rows(
            "SELECT line_byte_position, arg_min(column_name, column_idx), error_type, "
            f"any_value(error_message) FROM {REJECTS}_errors GROUP BY 1, 3 ORDER BY 1"
        )
        problems = [
            Problem(
                fc.display,
                fc.line_of(int(pos)),
                str(col or ""),
                "error",
                _reader_reason(kind, msg),
            )
            for pos, col, kind, msg in rejected
        ]
        rows = int(self.store.one(f"SELECT count(*) FROM {RAW}"))
        record_lines = fc.newlines - 1 + (0 if fc.ends_with_newline else 1)
        if rows == record_lines and not problems:
            self.store.execute(
                f"CREATE OR REPLACE TEMP VIEW {STAGE} AS "
                f"SELECT CAST(rowid + 2 AS INTEGER) AS line, * FROM {RAW}"
            )
        else:
            self._stage_with_line_map(ds, sorted({p.line for p in problems}))
        return rows, problems

    def _stage_with_line_map(self, ds: Dataset, rejected_lines: list[int]) -> None:
        """Physical lines when values hold line breaks or rows were rejected."""
        breaks = " + ".join(
            f"coalesce(length({rules.ident(c)}) - "
            f"length(replace({rules.ident(c)}, chr(10), '')), 0)"
            for c in ds.columns
        )
        extra = self.store.con.execute(
            f"SELECT {breaks} FROM {RAW} ORDER BY rowid"
        ).fetchnumpy()
        spans = np.asarray(next(iter(extra.values())), dtype=np.int64)
        lines = 2 + np.arange(len(spans), dtype=np.int64)
        lines[1:] += np.cumsum(spans)[:-1]
        for bad in rejected_lines:
            lines[lines >= bad] += 1
        self.store.register("collect_lines", pa.table({"line": lines.astype(np.int32)}))
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGE}_t AS SELECT l.line, r.* "
            f"FROM (SELECT * FROM {RAW} ORDER BY rowid) r "
            "POSITIONAL JOIN collect_lines l"
        )
        self.store.unregister("collect_lines")
        self.store.execute(
            f"CREATE OR REPLACE TEMP VIEW {STAGE} AS SELECT * FROM {STAGE}_t"
        )

    def _reject(
        self, ds: Dataset, fc: FileCheck, received: datetime, errors: int
    ) -> None:
        with self.store.transaction() as s:
            rid = s.one("SELECT coalesce(max(rejection_id), 0) + 1 FROM rejections")
            s.execute(
                "INSERT INTO rejections VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    rid,
                    ds.name,
                    fc.path.name,
                    fc.sha256,
                    received,
                    errors,
                    str(self.report_path),
                ],
            )

    def _load(
        self, ds: Dataset, fc: FileCheck, received: datetime, rows: int, warnings: int
    ) -> int:
        """Write the collection, its rows and its warnings: all or nothing."""
        with self.store.transaction() as s:
            s.execute(rules.dataset_table_sql(ds))
            cid = int(
                s.one("SELECT coalesce(max(collection_id), 0) + 1 FROM collections")
            )
            s.execute(
                "INSERT INTO collections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    cid,
                    ds.name,
                    fc.path.name,
                    str(fc.path.resolve()),
                    fc.sha256,
                    received,
                    rows,
                    warnings,
                ],
            )
            s.execute(rules.insert_rows_sql(ds, STAGE), [cid])
            s.execute(
                "INSERT INTO collection_issues SELECT ?, ?, line, field, severity, "
                f"reason FROM {FILE_PROBLEMS} WHERE severity = 'warning'",
                [cid, fc.path.name],
            )
        return cid

    # -- the run ------------------------------------------------------------------
    def collect_all(
        self,
        ds: Dataset,
        paths: Iterable[Path],
        on_file: Callable[[FileOutcome], None] | None = None,
    ) -> RunResult:
        for path in paths:
            out = self.collect(ds, Path(path))
            if on_file is not None:
                on_file(out)
        return self.result

    def finish(self) -> RunResult:
        """Write the CSV report (when there were problems) and return the result."""
        if report.write_report(self.store, self.report_path):
            self.result.report_path = self.report_path
        self.result.shown = report.first_problems(self.store)
        self.result.error_lines = report.error_strings(self.store)
        return self.result


def _reader_reason(kind: str, message: str) -> str:
    """The CSV reader's error in words a data manager can act on."""
    reasons = {
        "MISSING COLUMNS": "too few fields on this line (truncated line?)",
        "TOO MANY COLUMNS": "too many fields on this line (unquoted comma?)",
        "UNQUOTED VALUE": "quote not closed (an unclosed quote runs to the end)",
        "LINE SIZE OVER MAXIMUM": "line is longer than 1 MB",
        "INVALID UNICODE": "not valid UTF-8 text",
    }
    return reasons.get(str(kind), f"cannot read this line: {message}")
