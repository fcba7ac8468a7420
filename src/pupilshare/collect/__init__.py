"""Collection: validate returns against the catalogue in DuckDB and load them whole.

``collect_files`` is what the ``collect`` command calls, ``collect_nation`` what the
demo calls; ``Collector`` is the run both are built on. These names are the area's
public surface.
"""

from __future__ import annotations

from pupilshare.collect.load import Collector, FileOutcome, RunResult
from pupilshare.collect.overview import overview
from pupilshare.collect.report import plural, problem_table
from pupilshare.collect.run import (
    collect_files,
    collect_nation,
    nation_files,
    withdraw_collection,
)
from pupilshare.collect.status import collection_status

__all__ = [
    "Collector",
    "FileOutcome",
    "RunResult",
    "collect_files",
    "collect_nation",
    "collection_status",
    "nation_files",
    "overview",
    "plural",
    "problem_table",
    "withdraw_collection",
]
