"""title: Tables that cross items in a cycle are audited over their finest cells

Three tables over the same pupils: pupils by school and sex, by school and free
school meals, and by sex and free school meals. Each pair shares a margin (school,
sex, or free school meals), and the audit used to couple the tables pair by pair
over those margins. That is the intruder's whole knowledge only when the tables
form a tree; these three form a cycle, and the intruder who solves for the finest
cells (school x sex x free school meals, every published cell a sum of them) learns
more: a school the first table shows to be all boys has its free-school-meals count
of boys in the third table, so a count the second table suppresses is pinned.

The audit now tests the shape of every population's tables (GYO reduction of the
hypergraph of their items, levels of a hierarchy apart) and audits a cycle over the
finest cells, exactly; too many finest cells refuse the release, naming the tables.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pupilshare.errors import Blocked
from pupilshare.plan import ReleasePlan, Sdc, TableSpec
from pupilshare.release import (
    aggregate,
    audit,
    check,
    finest,
    linked,
    published_cells,
    sdc,
)
from pupilshare.release.sdc import with_margins
from pupilshare.store import Store

RULES = Sdc()
BY_SEX = TableSpec("pupils_by_school_sex", "census", ("laestab",), ("sex",))
BY_FSM = TableSpec("pupils_by_school_fsm", "census", ("laestab",), ("fsm_eligible",))
CROSS = TableSpec("pupils_by_sex_fsm", "census", ("sex",), ("fsm_eligible",))
# Two boys' schools and two girls' schools; the second and third have few pupils
# on free school meals (6 and 4), hidden in the school table with their
# complements. The sex table shows the boys' schools' free-school-meals pupils:
# 20, of whom the first school's 14 are published, so the second's are 6.
COUNTS = {
    ("8070001", "M", "N"): 26,
    ("8070001", "M", "Y"): 14,
    ("8070002", "M", "N"): 14,
    ("8070002", "M", "Y"): 6,
    ("8070003", "F", "N"): 21,
    ("8070003", "F", "Y"): 4,
    ("8070004", "F", "N"): 15,
    ("8070004", "F", "Y"): 17,
}


def _records(counts: dict) -> pa.Table:
    cols: dict[str, list] = {c: [] for c in ("laestab", "sex", "fsm_eligible")}
    for (school, sex, fsm), n in counts.items():
        for _ in range(n):
            cols["laestab"].append(school)
            cols["sex"].append(sex)
            cols["fsm_eligible"].append(fsm)
    n = len(cols["sex"])
    return pa.table({**cols, "__pupil_key": np.arange(n)})


def _store(counts: dict) -> Store:
    store = Store()
    store.register("recs", _records(counts))
    return store


def _record(store: Store, release: str, spec: TableSpec, cube: sdc.Cube) -> None:
    published_cells.record(
        store,
        release,
        "agreement-" + release,
        spec.name,
        aggregate.grid_names(spec, cube),
        cube.values.ravel(),
        aggregate.shown(cube, RULES),
    )


def _earlier(store: Store) -> None:
    """The first two tables as earlier releases published them: the sex table in
    full (an earlier, simpler release), the school table with its two small
    free-school-meals counts hidden in a hypercube with their complements."""
    by_sex = aggregate.reduced(store, BY_SEX, "recs", RULES)
    _record(store, "sexes", BY_SEX, by_sex)
    by_fsm = aggregate.reduced(store, BY_FSM, "recs", RULES)
    schools = list(by_fsm.labels[0])
    for school in ("8070002", "8070003"):
        by_fsm.status[schools.index(school), :2] = sdc.SECONDARY
    _record(store, "schools", BY_FSM, by_fsm)
    return None


def _intruder(counts: dict, tables: list[tuple[TableSpec, pa.Table]]) -> list:
    """The intruder's exact intervals: the finest cells (school x sex x free
    school meals) as unknowns, every published cell an equation; every suppressed
    cell narrower than its protection."""
    fine = [
        (s, x, f)
        for s in sorted({k[0] for k in counts})
        for x in ("F", "M")
        for f in ("N", "Y")
    ]
    attrs = [
        dict(zip(("laestab", "sex", "fsm_eligible"), f, strict=True)) for f in fine
    ]
    rows, rhs, hidden = [], [], []
    for spec, table in tables:
        dims = [*spec.rows, *spec.columns]
        for r in table.to_pylist():
            member = np.array(
                [
                    all(r[d] == "Total" or a[d] == str(r[d]) for d in dims)
                    for a in attrs
                ],
                dtype=float,
            )
            if r["symbol"] is None:
                rows.append(member)
                rhs.append(r["value"])
            elif r["symbol"] == "c":
                truth = sum(
                    counts.get(f, 0) for f, m in zip(fine, member, strict=True) if m
                )
                hidden.append((spec.name, {d: r[d] for d in dims}, member, truth))
    a, b = np.array(rows), np.array(rhs, dtype=float)
    bad = []
    for name, cell, member, truth in hidden:
        lo = linprog(member, A_eq=a, b_eq=b, bounds=(0, None), method="highs").fun
        top = linprog(-member, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = -top.fun if top.status == 0 else np.inf
        need = RULES.min_interval if 0 < truth < RULES.threshold else 1
        if hi - lo < need - 1e-6:
            bad.append((name, cell, truth, lo, hi))
    return bad


def _published(store: Store) -> list[tuple[TableSpec, pa.Table]]:
    """The earlier tables as their readers see them."""
    out = []
    for release, spec in (("sexes", BY_SEX), ("schools", BY_FSM)):
        cube = aggregate.reduced(store, spec, "recs", RULES)
        shown = store.arrow(
            f"SELECT shown FROM {published_cells.TABLE} WHERE release_id = ?",
            [release],
        ).column("shown")
        hidden = np.array([s == "suppressed" for s in shown.to_pylist()])
        cube.status.ravel()[hidden] = sdc.SECONDARY
        out.append((spec, aggregate.table_arrow(spec, cube, RULES)))
    return out


def _plan(spec: TableSpec) -> ReleasePlan:
    items = tuple(f"census.{d}" for d in (*spec.rows, *spec.columns))
    return ReleasePlan(
        "A", "r", "g", "p", "aggregate", items, tables=(spec,), sdc=RULES
    )


def _pairs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit as it was: couplings between pairs of tables only."""
    monkeypatch.setattr(linked, "_exact", lambda *a: [])


def test_the_cycle_is_found_and_the_sum_table_is_refused_or_protected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _store(COUNTS)
    _earlier(store)
    earlier = _published(store)
    cross = aggregate.reduced(store, CROSS, "recs", RULES)
    sdc.protect(cross, RULES)
    shown = aggregate.table_arrow(CROSS, cross, RULES)
    assert not cross.suppressed.any()  # no small count of its own
    # The intruder pins the second school's six and the third's four.
    pinned = _intruder(COUNTS, [*earlier, (CROSS, shown)])
    assert {(c["laestab"], c["fsm_eligible"], t) for _, c, t, _, _ in pinned} >= {
        ("8070002", "Y", 6),
        ("8070003", "Y", 4),
    }
    # The pairwise audit passed it; the audit over the finest cells refuses it.
    with monkeypatch.context() as m:
        _pairs_only(m)
        assert check.check_table(store, _plan(CROSS), CROSS.name, shown, "recs") == []
    reasons = check.check_table(store, _plan(CROSS), CROSS.name, shown, "recs")
    assert any("earlier published tables" in r for r in reasons), reasons
    # The builder: before, it published the table whole; now it hides cells
    # until the intruder pins nothing (or withholds the table).
    with monkeypatch.context() as m:
        _pairs_only(m)
        old = aggregate.build_table(store, CROSS, "recs", RULES)
    assert not old.suppressed.any()
    new = aggregate.build_table(store, CROSS, "recs", RULES)
    assert new.suppressed.any()
    table = aggregate.table_arrow(CROSS, new, RULES)
    assert _intruder(COUNTS, [*earlier, (CROSS, table)]) == []
    assert check.check_table(store, _plan(CROSS), CROSS.name, table, "recs") == []


def test_a_cycle_too_big_to_audit_refuses_naming_the_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = _store(COUNTS)
    _earlier(store)
    _, shown = (
        CROSS,
        aggregate.table_arrow(
            CROSS, aggregate.reduced(store, CROSS, "recs", RULES), RULES
        ),
    )
    monkeypatch.setattr(finest, "MAX_CELLS", 10)
    reasons = check.check_table(store, _plan(CROSS), CROSS.name, shown, "recs")
    assert any(
        "a cycle" in r and BY_FSM.name in r and CROSS.name in r for r in reasons
    ), reasons
    with pytest.raises(Blocked, match="a cycle"):
        aggregate.build_table(store, CROSS, "recs", RULES)


def test_the_shape_of_linked_tables() -> None:
    """GYO on the items, levels of a hierarchy apart: a school table, an LA table
    and a national table are a tree; school x sex, school x FSM, sex x FSM a
    cycle; with hierarchies, school x outcome, LA x sex x reached the expected
    standard, and sex x outcome a cycle too (the fine outcome passes around the LA
    table); a slice beside a sum is caught."""

    def t(name: str, *dims: str, **fixed: str) -> linked.Table:
        cats = ("2023", "2024", "F", "M")
        shape = (len(cats) + 1,) * len(dims)
        return linked.Table(
            name,
            "ks:count",
            {k: frozenset([v]) for k, v in fixed.items()},
            dims,
            (cats,) * len(dims),
            np.zeros(shape),
            np.zeros(shape, bool),
        )

    tree = [t("s", "laestab", "outcome"), t("l", "la_code", "reached_expected"), t("n")]
    assert finest.problem(tree) is None
    margins = [t("s", "laestab"), t("x", "sex"), t("f", "fsm_eligible")]
    assert finest.problem(margins) is None
    cycle = [t("a", "laestab", "sex"), t("b", "laestab", "fsm"), t("c", "sex", "fsm")]
    assert "a cycle" in finest.problem(cycle)
    levels = [
        t("a", "laestab", "outcome"),
        t("b", "la_code", "sex", "reached_expected"),
        t("c", "sex", "outcome"),
    ]
    assert "a cycle" in finest.problem(levels)
    sliced = [t("a", "sex", academic_year="2024"), t("b", "sex")]
    assert "a slice" in finest.problem(sliced)
    # Both sums of a year x sex table: its cells carry the inequality.
    covered = [*sliced, t("c", "academic_year", "sex")]
    assert finest.problem(covered, linked.covers) is None
    apart = [t("a", "sex", subject="READ"), t("b", "sex", subject="MATH")]
    assert finest.problem(apart) is None


# Random small groups of three tables over school x sex x FSM: the pairwise system
# and the finest cells give the same intervals when the group is a tree, and the
# finest cells' intervals lie inside the pairwise ones in a cycle, and are what
# the audit uses.
SHAPES = {
    "tree": (("laestab", "sex"), ("laestab", "fsm_eligible"), ("laestab",)),
    "chain": (("laestab", "sex"), ("la_code", "sex"), ("sex", "fsm_eligible")),
    "cycle": (("laestab", "sex"), ("laestab", "fsm_eligible"), ("sex", "fsm_eligible")),
    # A cycle through a hierarchy: the LA table holds LA, the other two schools.
    "levels": (
        ("laestab", "sex"),
        ("la_code", "sex", "fsm_eligible"),
        ("laestab", "fsm_eligible"),
    ),
}
CYCLES = {"cycle", "levels"}
SCHOOLS = ("8070001", "8070002", "8160001")


def _group(y: np.ndarray, shape: str, hidden: list[np.ndarray]) -> list[linked.Table]:
    """Three tables of ``y`` (school x sex x FSM) in a given shape, with a hidden
    pattern each."""
    axes = {"laestab": 0, "sex": 1, "fsm_eligible": 2}
    labels = {
        "laestab": SCHOOLS,
        "la_code": ("807", "816"),
        "sex": ("F", "M"),
        "fsm_eligible": ("N", "Y"),
    }
    out = []
    for k, dims in enumerate(SHAPES[shape]):
        v = y
        if "la_code" in dims:
            v = np.stack([y[:2].sum(0), y[2:].sum(0)])
            dims_at = {"la_code": 0, "sex": 1, "fsm_eligible": 2}
        else:
            dims_at = axes
        keep = [dims_at[d] for d in dims]
        v = v.sum(axis=tuple(i for i in range(3) if i not in keep))
        full = with_margins(v)
        h = hidden[k][: full.size].reshape(-1)
        h = np.resize(h, full.size).reshape(full.shape)
        out.append(
            linked.Table(
                f"t{k}",
                "census:count",
                {},
                dims,
                tuple(labels[d] for d in dims),
                full,
                h,
            )
        )
    return out


def _intervals(j: linked.Joint) -> dict[tuple[str, int], tuple[float, float]]:
    out = {}
    for c in np.flatnonzero(j.owner >= 0):
        e = np.zeros(j.a.shape[1])
        e[c] = 1
        lo = linprog(e, A_eq=j.a, b_eq=j.b, bounds=(0, None), method="highs")
        hi = linprog(-e, A_eq=j.a, b_eq=j.b, bounds=(0, None), method="highs")
        assert lo.status == 0
        top = -hi.fun if hi.status == 0 else np.inf
        out[(j.tables[int(j.owner[c])].name, int(j.cell[c]))] = (lo.fun, top)
    return out


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(sorted(SHAPES)),
    st.lists(st.integers(0, 12), min_size=12, max_size=12),
    st.lists(st.lists(st.booleans(), min_size=12, max_size=12), min_size=3, max_size=3),
)
def test_finest_intervals_match_pairs_on_a_tree_and_lie_inside_them_on_a_cycle(
    shape: str, counts: list[int], hidden: list[list[bool]]
) -> None:
    y = np.array(counts, dtype=float).reshape(3, 2, 2)
    tables = _group(y, shape, [np.array(h) for h in hidden])
    keep = linked._exact
    try:
        linked._exact = lambda *a: []
        pairs = linked.joint(tables[0], tables[1:])
        # The finest cells of every population, whatever its shape.
        linked._exact = lambda tables, col_of, n, digest=None: [
            finest.system(tables, m, col_of, n, linked.covers)
            for m in linked.populations(tables)
            if len(m) > 1
        ]
        forced = linked.joint(tables[0], tables[1:])
    finally:
        linked._exact = keep
    used = linked.joint(tables[0], tables[1:])
    if pairs is None:
        return
    assert (finest.problem(tables) is None) == (shape not in CYCLES)
    got_pairs, got_fine, got_used = map(_intervals, (pairs, forced, used))
    for key, (lo, hi) in got_fine.items():
        if key not in got_pairs:
            continue
        p_lo, p_hi = got_pairs[key]
        assert lo >= p_lo - 1e-6 and hi <= p_hi + 1e-6
        if shape not in CYCLES:
            assert lo == pytest.approx(p_lo, abs=1e-6)
            assert hi == pytest.approx(p_hi, abs=1e-6)
        else:
            assert got_used[key] == pytest.approx((lo, hi), abs=1e-6)
    # And the audit's verdict follows the finest intervals.
    need = audit.Need(*linked.needs(used, RULES.threshold, RULES.min_interval, True))
    short = linked.short(used, need)
    for c in np.flatnonzero(used.owner >= 0):
        lo, hi = got_used[(used.tables[int(used.owner[c])].name, int(used.cell[c]))]
        x = used.x0[c]
        one = need.part(np.array([c]))
        ok = one.met(np.array([x]), np.array([lo]), np.array([hi]))[0]
        assert bool(short[c]) == (not ok)
