"""title: One suppression pattern for a release's linked tables

The health department's NCMP prevalence release has three tables over the same
children: prevalence by area and year (area x year x weight category), the same by
school year (Reception and Year 6), and "of which severely obese" (area x year x
severely obese, obese children only). The first is the school-year Total of the
second; the Total column of the third is the obese column of the first. Protected
one table after another, each table's complements are another's exposures, and the
repairs cascade until every prevalence cell is hidden (at 200,000 pupils, all of
them were). Protected together, as one cover table (area x year x school year x
weight category x severely obese), they share one pattern: a cell two tables show is
hidden in both or neither, complements are shared, and the figures stay usable.

The intruder works on the finest cells (area x year x school year x weight category
x severely obese; severely obese but not obese is impossible and known to be), every
published cell of the three tables a sum of them, and solves two LPs per suppressed
cell: its feasible interval, exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pupilshare.plan import ReleasePlan, Sdc, TableSpec
from pupilshare.release import aggregate, check, cover, sdc, tablecheck
from pupilshare.store import Store

BY_AREA = TableSpec(
    "prevalence_by_area",
    "ncmp",
    ("health_area", "academic_year"),
    ("weight_category",),
)
BY_YEAR = TableSpec(
    "prevalence_by_year",
    "ncmp",
    ("health_area", "academic_year", "school_year"),
    ("weight_category",),
)
SEVERE = TableSpec(
    "of_which_severely_obese",
    "ncmp",
    ("health_area", "academic_year"),
    ("severely_obese",),
    filters=(("weight_category", ("obese",)),),
)
TABLES = [BY_AREA, BY_YEAR, SEVERE]
RULES = Sdc()
# Weight category and severely obese of a child: (category, Y/N) with its share
# (about the synthetic nation's: obese 12%, of whom a sixth severely).
KINDS = (
    (("underweight", "N"), 0.015),
    (("healthy weight", "N"), 0.735),
    (("overweight", "N"), 0.13),
    (("obese", "N"), 0.10),
    (("obese", "Y"), 0.02),
)
DIMS = ("health_area", "academic_year", "school_year", "weight_category")


def _world(areas: int, years: int, children: tuple[int, int], seed: int) -> dict:
    """Children per (area, year, school year, weight category, severely obese)."""
    rng = np.random.default_rng(seed)
    shares = np.array([p for _, p in KINDS])
    counts = {}
    for a in range(areas):
        for y in range(years):
            for school in ("R", "6"):
                n = int(rng.integers(*children))
                for (kind, _), k in zip(KINDS, rng.multinomial(n, shares), strict=True):
                    if k:
                        counts[(f"HA{a:02d}", str(2019 + y), school, *kind)] = int(k)
    return counts


def _records(counts: dict) -> pa.Table:
    cols: dict[str, list] = {d: [] for d in (*DIMS, "severely_obese")}
    for key, n in counts.items():
        for d, v in zip(cols, key, strict=True):
            cols[d].extend([v] * n)
    n = len(cols["health_area"])
    return pa.table({**cols, "__pupil_key": np.arange(n)})


def _store(counts: dict) -> Store:
    store = Store()
    store.register("recs", _records(counts))
    return store


def _release(counts: dict, linked: bool = True) -> list[tuple[TableSpec, sdc.Cube]]:
    """The three tables built as ``build._aggregate`` builds them (``linked=False``:
    each on its own, no linking at all)."""
    store = _store(counts)
    cubes = aggregate.build_tables(store, TABLES, lambda s: "recs", RULES, linked)
    return list(zip(TABLES, cubes, strict=True))


def _arrow(built: list[tuple[TableSpec, sdc.Cube]]) -> list[tuple[TableSpec, pa.Table]]:
    return [(s, aggregate.table_arrow(s, c, RULES)) for s, c in built]


def _intervals(counts: dict, tables: list[tuple[TableSpec, pa.Table]]) -> list:
    """The intruder: for each suppressed cell of every table, its true value and
    least and greatest value given every published cell of the three tables."""
    areas = sorted({k[0] for k in counts})
    years = sorted({k[1] for k in counts})
    fine = [
        (a, y, s, *kind)
        for a in areas
        for y in years
        for s in ("6", "R")
        for kind, _ in KINDS
    ]
    names = (*DIMS, "severely_obese")
    known = [dict(zip(names, f, strict=True)) for f in fine]
    rows, rhs, hidden = [], [], []
    for spec, table in tables:
        dims = [*spec.rows, *spec.columns]
        fixed = dict(spec.filters)
        for r in table.to_pylist():
            member = np.array(
                [
                    all(r[d] == "Total" or k[d] == str(r[d]) for d in dims)
                    and all(k[i] in v for i, v in fixed.items())
                    for k in known
                ],
                dtype=float,
            )
            if r["symbol"] is None:
                rows.append(member)
                rhs.append(r["value"])
            else:
                inside = [f for f, m in zip(fine, member, strict=True) if m]
                truth = sum(counts.get(f, 0) for f in inside)
                hidden.append((f"{spec.name} {r}", member, truth))
    a, b = np.array(rows), np.array(rhs, dtype=float)
    out = []
    for label, member, truth in hidden:
        lo = linprog(member, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-member, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status in (0, 3)
        out.append((label, truth, lo.fun, np.inf if hi.status == 3 else -hi.fun))
    return out


def _pinned(intervals: list) -> list:
    """Suppressed cells narrower than their protection: a small count (1 to
    threshold - 1) less than ``min_interval`` wide, any other less than 1."""
    bad = []
    for label, truth, lo, hi in intervals:
        need = RULES.min_interval if 0 < truth < RULES.threshold else 1
        if hi - lo < need - 1e-6:
            bad.append((label, truth, lo, hi))
    return bad


def _check(counts: dict, built: list[tuple[TableSpec, sdc.Cube]]) -> list[str]:
    """The independent output check, as ``check.check_release`` runs it: each table
    with the builder's witnesses, then one linked audit of them all."""
    store = _store(counts)
    items = tuple(f"ncmp.{d}" for d in (*DIMS, "severely_obese"))
    plan = ReleasePlan(
        "A", "r", "g", "p", "aggregate", items, tables=tuple(TABLES), sdc=RULES
    )
    collected: list = []
    reasons = []
    for spec, cube in built:
        reasons += check.check_table(
            store,
            plan,
            spec.name,
            aggregate.table_arrow(spec, cube, RULES),
            source="recs",
            witness=tablecheck.Witness(
                cube.labels, cube.cubes.corners, cube.cubes.signs
            ),
            linked_into=collected,
        )
    return reasons + tablecheck.release_linked_reasons(store, plan, collected)


def _share(cube: sdc.Cube) -> float:
    return float(cube.suppressed.mean())


def test_the_prevalence_tables_stay_useful() -> None:
    """Ten areas, four years, 200 to 300 children a school year in each: most
    underweight and severely obese counts are under 10, every other count is not.
    Before, every cell of both prevalence tables was hidden (withheld whole); now
    at most half of them are, and the check passes the release."""
    counts = _world(10, 4, (200, 300), seed=3)
    built = _release(counts)
    by = {spec.name: cube for spec, cube in built}
    assert not any(c.withheld for c in by.values())
    assert _share(by["prevalence_by_area"]) <= 0.5
    assert _share(by["prevalence_by_year"]) <= 0.5
    assert _share(by["of_which_severely_obese"]) <= 0.9
    # Every count under the threshold is hidden, in every table.
    for spec, cube in built:
        small = (cube.values > 0) & (cube.values < RULES.threshold)
        assert cube.suppressed[small].all(), spec.name
    assert _check(counts, built) == []


def test_a_cell_two_tables_show_is_hidden_in_both_or_neither() -> None:
    counts = _world(6, 3, (150, 250), seed=5)
    by = {spec.name: cube for spec, cube in _release(counts)}
    area, year, severe = (
        by["prevalence_by_area"],
        by["prevalence_by_year"],
        by["of_which_severely_obese"],
    )
    # prevalence_by_area is prevalence_by_year's school-year Total.
    assert np.array_equal(area.values, year.values[:, :, -1, :])
    assert np.array_equal(area.suppressed, year.suppressed[:, :, -1, :])
    # The severely obese table's Total column is the obese column.
    obese = area.labels[2].index("obese")
    assert np.array_equal(severe.values[..., -1], area.values[..., obese])
    assert np.array_equal(severe.suppressed[..., -1], area.suppressed[..., obese])


def test_the_three_tables_together_pin_nothing() -> None:
    """The attack: every published cell of the three tables at once. Tables
    protected each on its own (no linking) give cells away, and the check refuses
    them; the shared pattern gives nothing away, and the check passes it."""
    counts = _world(3, 2, (150, 250), seed=5)
    alone = _release(counts, linked=False)
    assert len(_pinned(_intervals(counts, _arrow(alone)))) >= 5
    assert any("combining" in r for r in _check(counts, alone))
    together = _release(counts)
    assert _pinned(_intervals(counts, _arrow(together))) == []
    assert _check(counts, together) == []


@settings(max_examples=6, deadline=None)
@given(
    st.integers(2, 3),
    st.integers(1, 2),
    st.sampled_from([(20, 60), (60, 160), (150, 300)]),
    st.integers(0, 10_000),
)
def test_every_suppressed_cell_keeps_its_interval(
    areas: int, years: int, children: tuple[int, int], seed: int
) -> None:
    counts = _world(areas, years, children, seed)
    built = _release(counts)
    assert _pinned(_intervals(counts, _arrow(built))) == []


def test_a_cover_is_used_only_where_it_is_exact_and_small() -> None:
    """Tables whose items roll up one into another (school to LA), or too many
    items for a hypercube, or a filter of several categories, keep the table by
    table path; the NCMP prevalence tables share a cover."""
    assert cover.groups(TABLES, RULES) == [[0, 1, 2]]
    assert cover.groups(TABLES, Sdc(method="cell_key")) == []
    schools = TableSpec("s", "ks_results", ("laestab",), ("outcome",))
    las = TableSpec("l", "ks_results", ("la_code",), ("outcome",))
    assert cover.groups([schools, las], RULES) == []
    wide = [
        TableSpec("a", "census", ("la_code", "sex", "ncyear"), ("fsm_eligible",)),
        TableSpec("b", "census", ("ethnicity", "first_language"), ("sen_provision",)),
    ]
    assert cover.groups(wide, RULES) == []
    several = TableSpec(
        "o", "ncmp", ("health_area",), (), filters=(("weight_category", ("a", "b")),)
    )
    assert cover.groups([BY_AREA, several], RULES) == []
