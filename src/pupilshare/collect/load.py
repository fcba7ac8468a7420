"""Collecting files: stage each one in the engine, validate it, load it all or nothing.

One ``Collector`` is one run over one store connection. It checks each file's bytes
(``read``), reads files in batches into a text staging table (``stage``), finds every
problem of the batch with one SQL statement (``rules``) and then, for each file inside
its own ``Store.transaction()``, either records a rejection or writes the collection
row, the typed rows and the warnings. A file whose SHA-256 is already collected is
skipped: a return loads once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from pupilshare.catalogue import Dataset
from pupilshare.collect import report, returns, rules
from pupilshare.collect.read import FileCheck, Problem, check_file
from pupilshare.collect.stage import (
    POSITIONS,
    drop_links,
    stage_batch,
    unreadable_reason,
)
from pupilshare.config import Home
from pupilshare.store import Store

SEQ_NAMES = "collect_names"
BATCH_FILES = 256  # files read in one engine pass
BATCH_BYTES = 64_000_000  # and at most this many bytes (a larger file goes alone)


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
        self._seq = 0
        self._seen: dict[str, int | None] = {}  # sha256 -> collection, this run
        self._outcomes: dict[int, FileOutcome] = {}
        self._firsts: dict[int, int] = {}  # seq -> first row id, this batch
        self._mapped = False  # whether this batch's lines come from a line map
        for sql in rules.STORE_TABLES_SQL:
            store.execute(sql)
        store.execute(report.PROBLEMS_TABLE_SQL)

    # -- files ------------------------------------------------------------------
    def collect(
        self, ds: Dataset, path: Path, display: str | None = None
    ) -> FileOutcome:
        """Validate and load one file of dataset ``ds``; never raises for bad input."""
        self.collect_all(ds, [(path, display)])
        return self.result.outcomes[-1]

    def collect_all(
        self,
        ds: Dataset,
        files: Iterable[Path | tuple[Path, str | None]],
        on_file: Callable[[FileOutcome], None] | None = None,
    ) -> RunResult:
        """Collect files of ``ds`` in batches; each file is loaded or rejected alone."""
        batch: list[tuple[int, FileCheck]] = []
        size = 0
        for entry in files:
            path, display = entry if isinstance(entry, tuple) else (entry, None)
            seq = self._seq
            self._seq += 1
            fc = check_file(Path(path), ds, display)
            batch.append((seq, fc))
            size += fc.size
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                self._batch(ds, batch, on_file)
                batch, size = [], 0
        if batch:
            self._batch(ds, batch, on_file)
        return self.result

    def _batch(
        self,
        ds: Dataset,
        batch: list[tuple[int, FileCheck]],
        on_file: Callable[[FileOutcome], None] | None,
    ) -> None:
        received = datetime.now(UTC).replace(tzinfo=None)
        # Stage first: a large file's SHA-256 is still being computed in a thread
        # meanwhile. A file found to be a copy afterwards is simply not loaded.
        readable = [(seq, fc) for seq, fc in batch if fc.readable]
        rows: dict[int, int] = {}
        found_by_reader: dict[int, list[Problem]] = {}
        if readable:
            try:
                self._stage(ds, readable, received, rows, found_by_reader)
            except duckdb.Error as e:
                # One file the reader cannot cope with must not cost the others
                # their load: each file of the batch is tried alone.
                self.store.execute(
                    f"DELETE FROM {report.PROBLEMS} WHERE seq IN (SELECT unnest(?))",
                    [[seq for seq, _ in batch]],
                )
                if len(batch) > 1:
                    for one in batch:
                        self._batch(ds, [one], on_file)
                    return
                fc = batch[0][1]
                fc.problems.append(
                    Problem(fc.display, 0, "", "error", unreadable_reason(e))
                )
                rows.clear()
                found_by_reader.clear()
        known = dict(
            self.store.rows(
                "SELECT sha256, collection_id FROM collections WHERE sha256 IN "
                "(SELECT unnest(?))",
                [[fc.sha256 for _, fc in batch]],
            )
        )
        fresh: list[tuple[int, FileCheck]] = []
        copies: list[int] = []
        for seq, fc in batch:
            if fc.sha256 in known or fc.sha256 in self._seen:
                cid = known.get(fc.sha256, self._seen.get(fc.sha256))
                self._outcomes[seq] = FileOutcome(
                    fc.display, ds.name, "duplicate", collection_id=cid
                )
                copies.append(seq)
                continue
            self._seen[fc.sha256] = None
            report.add_problems(self.store, seq, fc.problems)
            report.add_problems(self.store, seq, found_by_reader.get(seq, []))
            fresh.append((seq, fc))
        if copies:
            self.store.execute(
                f"DELETE FROM {report.PROBLEMS} WHERE seq IN (SELECT unnest(?))",
                [copies],
            )
        found = {
            seq: (int(e), int(w))
            for seq, e, w in self.store.rows(
                "SELECT seq, count(*) FILTER (severity = 'error'), count(*) FILTER "
                f"(severity = 'warning') FROM {report.PROBLEMS} "
                "WHERE seq BETWEEN ? AND ? GROUP BY seq",
                [batch[0][0], batch[-1][0]],
            )
        }
        for seq, fc in fresh:
            errors, warnings = found.get(seq, (0, 0))
            n = rows.get(seq, 0)
            if errors:
                self._reject(ds, fc, received, errors)
                out = FileOutcome(fc.display, ds.name, "rejected", n, warnings, errors)
            else:
                cid = self._load(ds, seq, fc, received, n, warnings)
                self._seen[fc.sha256] = cid
                out = FileOutcome(fc.display, ds.name, "loaded", n, warnings, 0, cid)
            self._outcomes[seq] = out
        for seq, fc in batch:
            out = self._outcomes.pop(seq)
            if out.status == "duplicate" and out.collection_id is None:
                out.collection_id = self._seen.get(fc.sha256)  # a copy in this batch
            self._done(out, on_file)

    def _stage(
        self,
        ds: Dataset,
        readable: list[tuple[int, FileCheck]],
        received: datetime,
        rows: dict[int, int],
        found_by_reader: dict[int, list[Problem]],
    ) -> None:
        """Stage the readable files of a batch and find their problems in SQL."""
        staged = stage_batch(self.store, ds, readable)
        self._firsts = {st.seq: st.first_row for st in staged.files}
        for st in staged.files:
            rows[st.seq] = st.rows
            found_by_reader[st.seq] = st.problems
        self._name_files(readable)
        self.store.execute(
            f"INSERT INTO {report.PROBLEMS} SELECT p.seq, f.display, p.line, "
            "p.field, p.severity, p.reason FROM ("
            + rules.problems_sql(ds, POSITIONS, received.date(), staged.to_line)
            + f") p JOIN {SEQ_NAMES} f USING (seq)"
        )
        # The insert is planned once per batch and run once per accepted file.
        self.store.execute(rules.dataset_table_sql(ds))
        self.store.execute(
            "PREPARE collect_insert AS "
            + rules.insert_rows_sql(ds, f"({staged.rows_sql})")
        )
        self._mapped = staged.mapped

    def _name_files(self, batch: list[tuple[int, FileCheck]]) -> None:
        """Register the batch's display names so problems can carry them."""
        self.store.register(
            "collect_names_arrow",
            pa.table(
                {
                    "seq": pa.array([s for s, _ in batch], pa.int32()),
                    "display": [fc.display for _, fc in batch],
                }
            ),
        )
        self.store.execute(
            f"CREATE OR REPLACE TEMP TABLE {SEQ_NAMES} AS "
            "SELECT * FROM collect_names_arrow"
        )
        self.store.unregister("collect_names_arrow")

    def _done(
        self, out: FileOutcome, on_file: Callable[[FileOutcome], None] | None
    ) -> None:
        self.result.outcomes.append(out)
        self.result.errors += out.errors
        self.result.warnings += out.warnings
        if on_file is not None:
            on_file(out)

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
        self,
        ds: Dataset,
        seq: int,
        fc: FileCheck,
        received: datetime,
        rows: int,
        warnings: int,
    ) -> int:
        """Write the collection, its rows and its warnings: all or nothing."""
        with self.store.transaction() as s:
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
            if rows:
                first_row = self._firsts.get(seq, 0)
                args = [int(cid), int(seq)] + ([] if self._mapped else [first_row])
                s.execute(f"EXECUTE collect_insert({', '.join(map(str, args))})")
                # A corrected return replaces the earlier version of it.
                returns.supersede(s, ds, cid, received)
            if warnings:
                s.execute(
                    "INSERT INTO collection_issues SELECT ?, ?, line, field, severity, "
                    f"reason FROM {report.PROBLEMS} WHERE seq = ? "
                    "AND severity = 'warning'",
                    [cid, fc.path.name, seq],
                )
        return cid

    # -- the run ------------------------------------------------------------------
    def finish(self) -> RunResult:
        """Write the CSV report (when there were problems) and return the result."""
        drop_links()
        if report.write_report(self.store, self.report_path):
            self.result.report_path = self.report_path
        self.result.shown = report.first_problems(self.store)
        self.result.error_lines = report.error_strings(self.store)
        return self.result
