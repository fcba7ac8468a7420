"""One small nation shared by the synth tests (about a second to make)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pupilshare.synth import synthesise

from .rules import read_rows

PUPILS, SEED = 1500, 11


@pytest.fixture(scope="session")
def nation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nation")
    synthesise(out, PUPILS, SEED)
    return out


@pytest.fixture(scope="session")
def manifest(nation: Path) -> dict:
    return json.loads((nation / "manifest.json").read_text())


@pytest.fixture(scope="session")
def con(nation: Path) -> duckdb.DuckDBPyConnection:
    """Every dataset's rows with their truth ``person_id``, as tables ``<dataset>``."""
    c = duckdb.connect()
    c.execute(f"CREATE TABLE truth AS SELECT * FROM read_csv('{nation}/truth.csv')")
    for ds in ("census", "ks_results", "ncmp", "qualifications", "survey_contacts"):
        files = sorted(str(p.relative_to(nation)) for p in (nation / ds).glob("*.csv"))
        c.register(f"_{ds}", read_rows(nation, files))
        c.execute(f"""
        CREATE TABLE {ds} AS SELECT t.person_id, r.* FROM _{ds} r
        LEFT JOIN truth t ON t.file = r.file AND t.line = r.line""")
    return c
