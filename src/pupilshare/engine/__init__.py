"""The engines the pupil data's SQL runs on: DuckDB (the default, in-process) or
Apache Spark (``PUPILSHARE_ENGINE=spark`` or ``--engine spark``), for a deployment
that has outgrown one machine.

The pipeline's SQL is written once, in DuckDB's dialect; on Spark it is translated
(``dialect``: sqlglot plus a short, named list of per-engine expressions). The
store's own records stay in DuckDB on either engine (``spark``). Matching runs
Splink on the chosen engine (``splink_backend``) and applies its answers to the
store in DuckDB; ``link`` fits its model to two files and scores their pairs with
Splink on the chosen engine too (``linker``: samples that are the same records on
both engines, so the fitted model is the same).
"""

from __future__ import annotations

import os

from pupilshare.config import Home
from pupilshare.engine.dialect import EXACT
from pupilshare.engine.linkage import fetch, linker, splink_backend
from pupilshare.errors import InvalidInput
from pupilshare.store import Store

__all__ = [
    "ENGINE_ENV",
    "ENGINES",
    "EXACT",
    "choose",
    "fetch",
    "linker",
    "splink_backend",
    "name_of",
    "open_store",
]

ENGINE_ENV = "PUPILSHARE_ENGINE"
ENGINES = ("duckdb", "spark")


def choose(name: str | None = None) -> str:
    """The engine asked for (``name``, else ``$PUPILSHARE_ENGINE``, else duckdb)."""
    engine = (name or os.environ.get(ENGINE_ENV) or "duckdb").strip().lower()
    if engine not in ENGINES:
        raise InvalidInput(
            f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}"
        )
    return engine


def open_store(
    home: Home,
    read_only: bool = False,
    wait: float | None = None,
    engine: str | None = None,
) -> Store:
    """The data home's store on the chosen engine."""
    if choose(engine) == "spark":
        from pupilshare.engine.spark import SparkStore

        home.ensure()
        return SparkStore(home.store_path, read_only=read_only, wait=wait)
    return Store.open(home, read_only=read_only, wait=wait)


def name_of(store: Store) -> str:
    """Which engine a store runs its pupil-data SQL on."""
    return getattr(store, "engine", "duckdb")
