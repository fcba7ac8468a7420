"""Disclosure control through the whole release: cell key perturbation chosen by an
agreement, and the record of published tables that later releases are checked
against."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pupilshare.config import Home
from pupilshare.plan import ReleasePlan, Sdc, TableSpec
from pupilshare.release import cellkey, population, published_cells
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

TABLES = (
    TableSpec("by_la", "ncmp", ("la_code",), ("weight_category",)),
    TableSpec("by_la_year", "ncmp", ("la_code", "school_year"), ("weight_category",)),
)
PLAN = ReleasePlan(
    "AGR-CK",
    "Care Quality Commission",
    "SI 2009/1563",
    "health",
    "aggregate",
    ("ncmp.la_code", "ncmp.school_year", "ncmp.weight_category"),
    tables=TABLES,
    opt_out_scope="health",
    sdc=Sdc(method="cell_key"),
)


@pytest.fixture
def world(home: Home) -> Store:
    store = Store.open(home)
    linked_world.make_world(store, pupils=900, seed=5)
    population.ensure_opt_outs(store)
    yield store
    store.close()


def _cells(out: Path, name: str, dims: list[str]) -> dict[tuple, int | None]:
    rows = pq.read_table(out / f"{name}.parquet").to_pylist()
    return {tuple(r[d] for d in dims): r["value"] for r in rows}


def test_a_perturbed_release_is_consistent_recorded_and_explained(
    world: Store, home: Home, tmp_path: Path
) -> None:
    build_release(world, home, PLAN, tmp_path / "one")
    build_release(world, home, PLAN, tmp_path / "two")
    dims = ["la_code", "weight_category"]
    first = _cells(tmp_path / "one", "by_la", dims)
    assert first == _cells(tmp_path / "two", "by_la", dims)  # every release
    by_year = _cells(
        tmp_path / "one", "by_la_year", ["la_code", "school_year", "weight_category"]
    )
    for (la, cat), v in first.items():  # every table
        assert by_year[(la, "Total", cat)] == v
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["rules"]["method"] == "cell_key"
    said = manifest["rules"]["cell_key"]
    assert "ptable" in said and "need not add up" in said["additivity"]
    # Counts are not suppressed: no suppression rule is claimed for them, and the
    # check says it recomputed the perturbation.
    assert "secondary" not in manifest["rules"] and "sums" not in manifest["rules"]
    assert "perturbation check" in manifest["rules"]["output_check"]["by_la"]
    secret = home.keys_dir / cellkey.SECRET
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    shown = {
        r[0] for r in world.rows(f"SELECT DISTINCT shown FROM {published_cells.TABLE}")
    }
    assert "perturbed" in shown
    # Record keys are never written to the store (only registered for a release).
    assert not world.rows(
        "SELECT table_name FROM duckdb_columns() WHERE "
        "column_name = 'rk' AND database_name <> 'temp'"
    )
