"""The pupil data store: one DuckDB database under the data home, behind a small engine.

Every module builds SQL in pure ``*_sql`` functions and runs it here, so the engine can
be swapped (Spark, through the same few methods) and SQL is logged in one place, at
debug level only: logs never carry pupil values, only statements.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pupilshare.config import Home
from pupilshare.errors import Busy

log = logging.getLogger(__name__)


WAIT_ENV = "PUPILSHARE_STORE_WAIT"  # seconds a command waits for a busy store
DEFAULT_WAIT = 60.0


def _is_lock_conflict(e: duckdb.Error) -> bool:
    return "lock" in str(e).lower()


def connect(
    path: str, read_only: bool = False, wait: float | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the store, waiting up to ``wait`` seconds while another process holds it.

    DuckDB lets one process write a database file and refuses every other open while
    it does. The web service opens the store only for the length of one read (or one
    review decision), so a command that meets it waits a moment and goes on; a
    command that meets another command's long write waits up to ``wait`` (default
    ``$PUPILSHARE_STORE_WAIT`` or 60 s) and then stops with ``Busy``.
    """
    if path == ":memory:":
        return duckdb.connect(path, read_only=read_only)
    if wait is None:
        wait = float(os.environ.get(WAIT_ENV) or DEFAULT_WAIT)
    deadline, pause = time.monotonic() + wait, 0.02
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.Error as e:
            if not _is_lock_conflict(e):
                raise
            if time.monotonic() >= deadline:
                raise Busy(
                    f"the store {path} is in use by another process; "
                    "try again when its run ends"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


class Store:
    """A DuckDB connection with the few operations the pipeline needs.

    ``transaction()`` is the unit of atomicity: a collection, a match run or a release
    record happens entirely inside one, so a crash or kill leaves the store as it was.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        read_only: bool = False,
        wait: float | None = None,
    ) -> None:
        self.path = str(path)
        self.con = connect(self.path, read_only, wait)
        self._depth = 0

    @classmethod
    def open(
        cls, home: Home, read_only: bool = False, wait: float | None = None
    ) -> Store:
        home.ensure()
        return cls(home.store_path, read_only=read_only, wait=wait)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the engine interface -------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Store:
        log.debug("sql: %s", sql)
        self.con.execute(sql, params or [])
        return self

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        log.debug("sql: %s", sql)
        return self.con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first column of the first row, or None.

        Fetches the whole result: DuckDB 2 blocks a connection while a result is only
        partly read, so never leave one half-fetched.
        """
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        log.debug("sql: %s", sql)
        return self.con.sql(sql, params=params or None).to_arrow_table()

    def register(self, name: str, data: Any) -> None:
        """Expose an Arrow table (or DataFrame) to SQL as a view called ``name``."""
        self.con.register(name, data)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def exists(self, table: str) -> bool:
        return bool(
            self.one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                [table],
            )
        )

    def drop(self, table: str) -> None:
        self.execute(f'DROP TABLE IF EXISTS "{table}"')

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All or nothing; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._depth = 0
