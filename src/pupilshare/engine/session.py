"""The Spark session: one per process, local mode unless ``spark-submit`` (or
``PUPILSHARE_SPARK_MASTER``) names a cluster.

The settings that make Spark answer as DuckDB does are fixed here, whatever the
cluster's defaults: UTC session time, non-ANSI mode (a list index past the end is
NULL, as in DuckDB), Arrow transfers. The session carries Splink's jar of string
similarity functions (``damerau_levenshtein``), which the match model's comparisons
call on Spark; under ``spark-submit`` pass it with ``--jars``.
"""

from __future__ import annotations

import os
from typing import Any

MASTER_ENV = "PUPILSHARE_SPARK_MASTER"  # e.g. spark://host:7077; default local[2]
MEMORY_ENV = "PUPILSHARE_SPARK_MEMORY"  # driver memory in local mode, e.g. 2g
PARTITIONS_ENV = "PUPILSHARE_SPARK_PARTITIONS"  # shuffle partitions (default 8)
DATA_ENV = "PUPILSHARE_SPARK_DATA"  # folder of the Parquet snapshots Spark reads

# Settings pupilshare's SQL depends on: the same answers as DuckDB.
REQUIRED = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "false",
}
# Defaults for local mode only (a cluster's own configuration wins).
LOCAL = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}

_session: Any = None


def session() -> Any:
    """The process's Spark session (made on first use)."""
    global _session
    if _session is not None:
        return _session
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        builder = SparkSession.builder.appName("pupilshare")
        master = os.environ.get(MASTER_ENV)
        if master or "PYSPARK_GATEWAY_PORT" not in os.environ:
            # not started by spark-submit: local mode unless told otherwise
            builder = builder.master(master or "local[2]")
            for key, value in LOCAL.items():
                builder = builder.config(key, value)
            builder = (
                builder.config("spark.jars", similarity_jar())
                .config("spark.driver.memory", os.environ.get(MEMORY_ENV, "1g"))
                .config(
                    "spark.sql.shuffle.partitions",
                    os.environ.get(PARTITIONS_ENV, "8"),
                )
            )
        active = builder.getOrCreate()
        active.sparkContext.setLogLevel("ERROR")
    for key, value in REQUIRED.items():
        active.conf.set(key, value)
    _session = active
    return _session


def similarity_jar() -> str:
    """The path of Splink's jar of similarity functions for this Spark version."""
    from splink.backends.spark import similarity_jar_location

    return similarity_jar_location()


def stop() -> None:
    """Stop the process's session (tests and benchmarks)."""
    global _session
    if _session is not None:
        _session.stop()
        _session = None
