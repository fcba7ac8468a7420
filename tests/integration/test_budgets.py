"""Budgets (issue 11 point 5): a plan over its cells or rows budget is refused at
submission with the figure; a release that still overruns its rows, memory or time
is stopped and delivers nothing."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from pupilshare import budget
from pupilshare.config import Home
from pupilshare.errors import Blocked, InvalidInput
from pupilshare.governance import seeds, workflow
from pupilshare.governance.access import actor
from pupilshare.governance.db import session_scope
from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

WIDE = {
    "name": "wide",
    "dataset": "ncmp",
    "rows": ["postcode", "date_of_birth"],
    "columns": ["sex"],
}


def test_cells_are_bounded_by_the_catalogue() -> None:
    t = {"name": "t", "dataset": "ncmp", "rows": ["sex"], "columns": ["school_year"]}
    assert budget.table_cells(t) == (3 + 1) * (2 + 1) or budget.table_cells(t) < 50
    assert budget.table_cells(WIDE) >= budget.UNBOUNDED
    filtered = {**t, "filters": {"sex": ["F"]}}
    assert budget.table_cells(filtered) < budget.table_cells(t)
    school = {
        "name": "s",
        "dataset": "ks_results",
        "rows": ["laestab"],
        "columns": ["outcome"],
    }
    assert budget.table_cells(school, rows=1000) < budget.table_cells(school)


def test_budget_terms_are_checked() -> None:
    assert budget.errors({"cells": 10, "rows": 0, "speed": 1, "seconds": "9"}) == [
        "budget: unknown key 'speed' (known: cells, rows, memory_mb, seconds)",
        "budget: rows must be a whole number above 0",
        "budget: seconds must be a whole number above 0",
    ]
    limits = budget.Budget(cells=100, rows=10, memory_mb=64, seconds=5)
    assert budget.effective({"cells": 50, "rows": 99}, limits) == dataclasses.replace(
        limits, cells=50
    )
    assert budget.above_service({"rows": 99}, limits) == [
        "budget: rows 99 is above the service's limit of 10"
    ]


def _submit(home: Home, changes: dict) -> list[str]:
    """Submit a seed agreement with ``changes``; the reasons it was refused."""
    data = seeds.read_seeds(seeds.SEEDS)
    raw = {
        **next(a for a in data["agreements"] if a["id"] == "dh-ncmp-prevalence"),
        **changes,
    }
    with session_scope(home) as s:
        seeds.load_parties(s, data)
        with pytest.raises(InvalidInput) as e:
            workflow.submit(s, actor(s, raw["users"][0]), raw, home=home)
    return e.value.errors


def test_a_wide_table_is_refused_at_submission_with_the_figure(home: Home) -> None:
    errors = _submit(home, {"id": "cqc-wide", "tables": [WIDE]})
    assert any(
        "table 'wide' would have unbounded cells, over the budget of 25,000,000" in r
        for r in errors
    )


def test_an_agreement_may_lower_but_never_raise_the_budget(home: Home) -> None:
    home.config_path.write_text("[release.budget]\ncells = 1000\n")
    errors = _submit(home, {"id": "cqc-big", "budget": {"cells": 5000}})
    assert "budget: cells 5,000 is above the service's limit of 1,000" in errors


@pytest.fixture
def world(home: Home) -> Store:
    store = Store.open(home)
    linked_world.make_world(store, pupils=400, seed=3)
    population.ensure_opt_outs(store)
    yield store
    store.close()


def test_a_release_over_its_rows_budget_delivers_nothing(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = ReleasePlan(
        "LA-1",
        "LA",
        "SI 2009/1563",
        "own pupils",
        "identified",
        ("census.census_date", "census.upn", "census.surname"),
        budget=budget.Budget(rows=10),
    )
    with pytest.raises(Blocked, match="over its budget of 10"):
        build_release(world, home, plan, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".staging-*"))


def test_a_release_over_its_cells_budget_is_refused_before_building(
    world: Store, home: Home, tmp_path: Path
) -> None:
    plan = ReleasePlan(
        "AGR-CQC",
        "CQC",
        "SI 2009/1563",
        "health",
        "aggregate",
        ("ncmp.la_code", "ncmp.weight_category", "ncmp.sex"),
        tables=(TableSpec("t", "ncmp", ("la_code", "sex"), ("weight_category",)),),
        budget=budget.Budget(cells=100),
    )
    with pytest.raises(Blocked) as e:
        build_release(world, home, plan, tmp_path / "out")
    assert "over the budget of 100" in e.value.errors[0]
    assert [p.name for p in tmp_path.iterdir()] == ["home"]  # nothing staged


def test_the_time_budget_interrupts_the_engine(world: Store) -> None:
    slow = budget.Budget(memory_mb=512, seconds=1)
    started = time.monotonic()
    with (
        pytest.raises(Blocked, match="time budget of 1 seconds"),
        budget.enforced(world.con, slow, "release of X"),
    ):
        world.rows("SELECT count(*) FROM range(100000000000) a")
    assert time.monotonic() - started < 30
    assert world.one("SELECT 1") == 1  # the connection is usable afterwards


def test_the_memory_budget_stops_the_engine(world: Store) -> None:
    tight = budget.Budget(memory_mb=16, seconds=60)
    with (
        pytest.raises(Blocked, match="memory budget of 16 MB"),
        budget.enforced(world.con, tight, "release of X"),
    ):
        world.rows("SELECT list(i) FROM range(50000000) t(i)")
