"""Where Splink runs: a private DuckDB connection (the default) or Splink's Spark
backend (``SparkAPI``) on the process's Spark session.

Either way Splink is given Arrow tables and hands back Arrow tables: the match run
reads its inputs from the store and applies Splink's predictions to the store in
its one DuckDB transaction, so a run killed anywhere still leaves the index as it
was. On Spark the inputs reach Splink as Parquet snapshots (shared storage on a
cluster: ``PUPILSHARE_SPARK_DATA``) and Splink breaks lineage with Parquet files
beside them.

The model is written once, in DuckDB's dialect (the shipped ``default-model.json``
and every saved model): on Spark its comparison levels and blocking rules are
translated by ``dialect.condition_to_spark``, and a model trained on Spark is saved
with the DuckDB conditions it was translated from, so either engine reads it.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pupilshare.engine import dialect
from pupilshare.engine.session import DATA_ENV


class DuckDBLinkage:
    """Splink on its own in-memory DuckDB connection fed with Arrow tables, so its
    work tables never touch the store."""

    dialect = "duckdb"

    def __init__(self) -> None:
        import duckdb
        from splink import DuckDBAPI

        # spill to the system's temp directory, never the working directory
        spill = Path(tempfile.gettempdir()) / "pupilshare-splink"
        # Splink's connection works beside the store's, each of which would take 80%
        # of memory by default: together they would not fit at 1 M pupils
        self.con = duckdb.connect(
            config={"temp_directory": str(spill), "memory_limit": _memory_share(0.4)}
        )
        self.api = DuckDBAPI(self.con)

    def table(self, data: pa.Table, name: str) -> Any:
        """``data`` as a Splink input table called ``name``."""
        self.api.register(data, table_name=f"{name}_in")
        return self.api.register(f"{name}_in", table_name=name)

    def settings(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The model's settings for this engine (DuckDB's are the model's own)."""
        return spec

    def saved(self, trained: dict[str, Any]) -> dict[str, Any]:
        """A trained model as it is written to disk (DuckDB's dialect)."""
        return trained

    def close(self) -> None:
        self.con.close()


class SparkLinkage:
    """Splink's Spark backend, with Splink's jar of similarity functions."""

    dialect = "spark"

    def __init__(self) -> None:
        from splink.backends.spark import SparkAPI

        from pupilshare.engine.session import session

        self.spark = session()
        root = os.environ.get(DATA_ENV)
        if root:
            Path(root).mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="pupilshare-splink-", dir=root))
        self.spark.sparkContext.setCheckpointDir(str(self.folder / "lineage"))
        self.api = SparkAPI(spark_session=self.spark, break_lineage_method="parquet")
        self._source: dict[str, Any] | None = None

    def table(self, data: pa.Table, name: str) -> Any:
        """``data`` as a Splink input table called ``name``: a Parquet snapshot."""
        # (Spark takes a file named with a leading "_" or "." for a hidden one)
        path = self.folder / f"t{name}.parquet"
        pq.write_table(data, path)
        return self.api.register(self.spark.read.parquet(str(path)), table_name=name)

    def settings(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The model's settings with each condition translated to Spark SQL."""
        self._source = copy.deepcopy(spec)
        return spark_settings(spec)

    def saved(self, trained: dict[str, Any]) -> dict[str, Any]:
        """A model trained on Spark, written in DuckDB's dialect."""
        return duckdb_settings(trained, self._source or {})

    def close(self) -> None:
        for name in list(self.api._registered_table_names):
            self.spark.catalog.dropTempView(name)
        shutil.rmtree(self.folder, ignore_errors=True)


Linkage = DuckDBLinkage | SparkLinkage


def spark_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """Splink settings (DuckDB's dialect) with every comparison level's condition
    and every blocking rule translated to Spark SQL."""
    out = copy.deepcopy(spec)
    out["sql_dialect"] = SparkLinkage.dialect
    for comparison in out.get("comparisons", []):
        for level in comparison["comparison_levels"]:
            level["sql_condition"] = dialect.condition_to_spark(level["sql_condition"])
    out["blocking_rules_to_generate_predictions"] = [
        _blocking_rule(r) for r in out.get("blocking_rules_to_generate_predictions", [])
    ]
    return out


def duckdb_settings(trained: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """A model trained on Spark with the DuckDB conditions of ``source``, the
    settings it was translated from (levels match one for one, in order): its
    learned parameters, the conditions as written."""
    out = copy.deepcopy(trained)
    out["sql_dialect"] = DuckDBLinkage.dialect
    pairs = zip(out["comparisons"], source["comparisons"], strict=True)
    for mine, theirs in pairs:
        levels = zip(
            mine["comparison_levels"], theirs["comparison_levels"], strict=True
        )
        for level, original in levels:
            level["sql_condition"] = original["sql_condition"]
    out["blocking_rules_to_generate_predictions"] = copy.deepcopy(
        source["blocking_rules_to_generate_predictions"]
    )
    return out


def _blocking_rule(rule: str | dict[str, Any]) -> dict[str, Any]:
    text = rule if isinstance(rule, str) else rule["blocking_rule"]
    out = {} if isinstance(rule, str) else dict(rule)
    out.update(
        blocking_rule=dialect.condition_to_spark(text), sql_dialect=SparkLinkage.dialect
    )
    return out


def splink_backend(engine: str) -> Linkage:
    """Where Splink runs for ``engine`` ("duckdb" or "spark")."""
    return SparkLinkage() if engine == "spark" else DuckDBLinkage()


def linker(backend: Linkage, tables: Any, spec: dict[str, Any]) -> Any:
    """A Splink linker on ``backend`` over ``tables`` (made by ``backend.table``)
    with the model ``spec`` (DuckDB's dialect), whose random samples are the same
    records on either engine (``sample``): a model fitted on each engine to the
    same data has the same parameters."""
    # imported here to save start-up time: it loads Splink
    from pupilshare.engine.sample import SameSampleLinker

    return SameSampleLinker(tables, backend.settings(spec), log_level=logging.ERROR)


def fetch(df: Any) -> pa.Table:
    """A Splink result as Arrow (plain strings), its table then dropped."""
    table = df.as_pyarrow_table()
    df.drop_table_from_database_and_remove_from_cache()
    cols = [
        c.cast(pa.string()) if pa.types.is_large_string(c.type) else c
        for c in table.columns
    ]
    return pa.table(cols, names=table.column_names)


def _memory_share(share: float) -> str:
    """A DuckDB memory limit: ``share`` of this machine's physical memory."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{int(total * share) // 2**20}MB"
