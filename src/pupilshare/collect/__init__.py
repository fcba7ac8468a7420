"""Collection: validate returns against the catalogue in DuckDB and load them whole.

``collect_files`` is what the CLI calls; ``demo_step`` is the demo's second step;
``Collector`` is the run both are built on.
"""

from __future__ import annotations

from pupilshare.collect.demo import demo_step
from pupilshare.collect.load import Collector, FileOutcome, RunResult
from pupilshare.collect.overview import overview
from pupilshare.collect.report import plural, problem_table
from pupilshare.collect.run import collect_files
from pupilshare.collect.status import collection_status

__all__ = [
    "Collector", "FileOutcome", "RunResult", "collect_files", "collection_status",
    "demo_step", "overview", "plural", "problem_table",
]  # fmt: skip
