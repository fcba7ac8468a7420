"""The store on Spark: the pupil data's SQL runs on Spark, the store's own records
(releases, the ledger, opt-out registrations, what was published) stay in DuckDB.

``SparkStore`` is a ``Store``: every module keeps calling ``rows``, ``arrow``,
``one``, ``register`` as before, and each statement goes to one engine:

- a query over the pupil data (a dataset's records, ``pupil_links``, ``pupils``) or
  over anything made on Spark runs on Spark, translated by ``dialect.to_spark``;
  the DuckDB tables it also reads (opt-outs, a registered Arrow table) are copied to
  Spark first, as Parquet snapshots under the engine's data folder, once per store;
- ``CREATE ... AS`` such a query makes a Spark temporary view, cached (a release
  reads its population many times);
  ``COPY (query) TO file`` computes on Spark and writes the file from Arrow here,
  so a release file is the same bytes whichever engine computed it;
- everything else (writes, transactions, the staging files a release reads back,
  the catalogue of tables) runs in DuckDB. A write never reads Spark's views.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from pupilshare import catalogue
from pupilshare.engine import dialect
from pupilshare.engine.session import DATA_ENV, session
from pupilshare.store import Store

log = logging.getLogger(__name__)

# The pupil data: a query that reads any of these runs on Spark.
PUPIL_DATA = frozenset(
    {"pupils", "pupil_links", *(d.table for d in catalogue.DATASETS.values())}
)


class SparkStore(Store):
    """The store, with the pupil data's queries on Spark (see the module)."""

    engine = "spark"

    def __init__(
        self,
        path: str | Path = ":memory:",
        read_only: bool = False,
        wait: float | None = None,
        data_dir: str | Path | None = None,
    ) -> None:
        super().__init__(path, read_only, wait)
        self.spark = session()
        from pyspark.sql import functions

        self._functions = functions
        default = (
            Path(self.path).parent / "engine" / "spark"
            if self.path != ":memory:"
            else Path(os.environ.get("TMPDIR", "/tmp")) / f"pupilshare-spark-{id(self)}"
        )
        self.data_dir = Path(data_dir or os.environ.get(DATA_ENV) or default)
        self._on_spark: set[str] = set()  # temporary views made on Spark
        self._copied: set[str] = set()  # DuckDB tables copied to Spark
        self._registered: dict[str, Any] = {}  # Arrow tables registered
        self._uuid: set[str] = set()  # columns held as 16 bytes on Spark

    def close(self) -> None:
        for name in self._on_spark | self._copied:
            self.spark.catalog.dropTempView(name)
        self._on_spark.clear()
        self._copied.clear()
        super().close()

    # -- routing -------------------------------------------------------------
    def _spark_statement(self, sql: str) -> exp.Expression | None:
        """The parsed statement when it runs on Spark, else None (DuckDB)."""
        if self._depth:  # a transaction is DuckDB's
            return None
        tree = dialect.parse(sql)
        if tree is None or dialect.reads_files(tree):
            return None
        if isinstance(tree, exp.Create):
            if not isinstance(tree.expression, exp.Query):
                return None
        elif isinstance(tree, exp.Copy):
            if not isinstance(tree.this, exp.Subquery | exp.Query):
                return None
        elif not isinstance(tree, exp.Query):
            return None
        names = dialect.tables(tree)
        if names & (PUPIL_DATA | self._on_spark):
            return tree
        return None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Store:
        tree = self._spark_statement(sql)
        if tree is None:
            self._duck(sql)
            return super().execute(sql, params)
        self._run(tree, params)
        return self

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        tree = self._spark_statement(sql)
        if tree is None:
            self._duck(sql)
            return super().rows(sql, params)
        out = self._run(tree, params)
        return [] if out is None else [tuple(r.values()) for r in out.to_pylist()]

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        tree = self._spark_statement(sql)
        if tree is None:
            self._duck(sql)
            return super().arrow(sql, params)
        out = self._run(tree, params)
        return pa.table({}) if out is None else out

    def register(self, name: str, data: Any) -> None:
        super().register(name, data)
        self._forget(name.lower())
        self._registered[name.lower()] = data

    def unregister(self, name: str) -> None:
        super().unregister(name)
        self._forget(name.lower())
        self._registered.pop(name.lower(), None)

    def exists(self, table: str) -> bool:
        return table.lower() in self._on_spark or super().exists(table)

    def drop(self, table: str) -> None:
        if table.lower() in self._on_spark:
            self._forget(table.lower())
        else:
            super().drop(table)

    # -- Spark -----------------------------------------------------------------
    def _duck(self, sql: str) -> None:
        """A DuckDB statement: a table it writes or drops is copied to Spark afresh
        when next read there; one that reads a Spark view cannot run."""
        tree = dialect.parse(sql)
        if tree is None:
            return
        names = dialect.tables(tree)
        if isinstance(tree, exp.Drop):
            for name in names & self._on_spark:
                self._forget(name)
            return
        if names & self._on_spark:
            raise NotImplementedError(
                "a DuckDB statement reads a table made on Spark: "
                f"{sorted(names & self._on_spark)}"
            )
        if not isinstance(tree, exp.Query):
            for name in names:
                self._forget(name)

    def _forget(self, name: str) -> None:
        if name in self._on_spark or name in self._copied:
            self.spark.catalog.dropTempView(name)
        self._on_spark.discard(name)
        self._copied.discard(name)

    def _run(
        self, tree: exp.Expression, params: Sequence[Any] | None
    ) -> pa.Table | None:
        """Run one statement on Spark; a query's result as Arrow."""
        for name in dialect.tables(tree) - self._on_spark - self._copied:
            self._copy(name)
        if isinstance(tree, exp.Create):
            name = tree.this.name.lower() if tree.this else ""
            frame = self._frame(tree.expression, params)
            # Views too: the pipeline reads a population view many times, and
            # Spark would otherwise recompute it (joins, derivations) for each.
            frame = frame.cache()
            self._forget(name)
            frame.createOrReplaceTempView(name)
            self._on_spark.add(name)
            return None
        if isinstance(tree, exp.Copy):
            query = tree.this.this if isinstance(tree.this, exp.Subquery) else tree.this
            result = self._arrow(self._frame(query, params))
            target = tree.args["files"][0].name if tree.args.get("files") else None
            self._write_copy(tree, result, target)
            return None
        return self._arrow(self._frame(tree, params))

    def _frame(self, query: exp.Expression, params: Sequence[Any] | None) -> Any:
        sql = dialect.to_spark(query)
        log.debug("spark sql: %s", sql)
        return self.spark.sql(sql, args=list(params) if params else None)

    def _arrow(self, frame: Any) -> pa.Table:
        """A Spark result as Arrow, 16-byte pseudonyms back as UUIDs, plain strings."""
        table = frame.toArrow()
        cols = []
        for field, col in zip(table.schema, table.columns, strict=True):
            binary = pa.types.is_binary(field.type) or pa.types.is_large_binary(
                field.type
            )
            if field.name.lower() in self._uuid and binary:
                raw = col.combine_chunks().cast(pa.binary()).cast(pa.binary(16))
                col = pa.ExtensionArray.from_storage(pa.uuid(), raw)
            elif pa.types.is_large_string(field.type):
                col = col.cast(pa.string())
            elif pa.types.is_large_binary(field.type):
                col = col.cast(pa.binary())
            cols.append(col)
        return pa.table(cols, names=table.column_names)

    def _write_copy(self, tree: exp.Expression, result: pa.Table, target: Any) -> None:
        """The file of a ``COPY (query) TO`` computed on Spark, written by DuckDB from
        the Arrow result (same writer, same bytes as on DuckDB)."""
        name = "_spark_copy"
        super().register(name, result)
        try:
            copy = tree.copy()
            copy.set("this", exp.select("*").from_(name).subquery())
            super().execute(copy.sql(dialect="duckdb"))
        finally:
            super().unregister(name)

    def _copy(self, name: str) -> None:
        """Make a DuckDB table (or registered Arrow table) readable on Spark: a
        Parquet snapshot in the engine's data folder (small Arrow tables directly)."""
        data = self._registered.get(name)
        if data is None:
            if not super().exists(name):
                return  # not a table (a subquery's alias): Spark will say if wrong
            uuids = [
                str(r[0]) for r in super().rows(f'DESCRIBE "{name}"') if r[1] == "UUID"
            ]
            folder = self._snapshot(name)
            cast = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in uuids)
            super().execute(
                f"COPY (SELECT * {f'REPLACE ({cast})' if uuids else ''} "
                f"FROM \"{name}\") TO '{folder / 'part-0.parquet'}' (FORMAT parquet)"
            )
            frame = self.spark.read.parquet(str(folder))
            for c in uuids:  # 16 bytes on Spark, as registered UUIDs are
                self._uuid.add(c.lower())
                frame = frame.withColumn(
                    c, self._functions.unhex(self._functions.regexp_replace(c, "-", ""))
                )
            self._view(name, frame)
            return
            data = self.con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
        if not isinstance(data, pa.Table):
            data = pa.Table.from_pandas(data)  # pragma: no cover - DataFrames
        data = self._plain(data)
        if data.num_rows > 100_000:  # large: through a Parquet snapshot
            folder = self._snapshot(name)
            pq.write_table(data, folder / "part-0.parquet")
            frame = self.spark.read.parquet(str(folder))
        else:
            frame = self.spark.createDataFrame(data)
        self._view(name, frame)

    def _snapshot(self, name: str) -> Path:
        folder = self.data_dir / f"{name}.parquet"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def _view(self, name: str, frame: Any) -> None:
        frame.createOrReplaceTempView(name)
        self._copied.add(name)

    def _plain(self, data: pa.Table) -> pa.Table:
        """Types Spark reads: UUIDs as 16-byte binary (remembered, to turn back)."""
        cols = []
        for field, col in zip(data.schema, data.columns, strict=True):
            if isinstance(field.type, pa.ExtensionType):
                if field.type == pa.uuid():
                    self._uuid.add(field.name.lower())
                col = pa.chunked_array(
                    [c.storage for c in col.chunks], field.type.storage_type
                ).cast(pa.binary())
            cols.append(col)
        return pa.table(cols, names=data.column_names)
