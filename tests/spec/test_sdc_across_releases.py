"""title: Disclosure control across releases, through hierarchies

A key stage trend table (by local authority, reached the expected standard or not)
and a school-level table (by school and outcome) count the same results: a school
lies in its LA, and AS, EXS and GDS are the expected standard. An intruder holding
both has one equation more for every LA and standard; the school table's secondary
suppression must leave every suppressed cell of both tables its protection interval
once they are combined, whichever is published first. The intruder here works on the
finest cells (school x year x outcome), every published cell of both tables a sum of
them, and solves two LPs per suppressed cell: the feasible interval, exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pupilshare import codesets
from pupilshare.plan import ReleasePlan, Sdc, TableSpec
from pupilshare.release import (
    aggregate,
    check,
    crossrelease,
    published_cells,
    sdc,
    tablecheck,
)
from pupilshare.store import Store

KS2_READ = (("key_stage", ("2",)), ("subject", ("READ",)))
TRENDS = TableSpec(
    "ks2_read_by_la_code",
    "ks_results",
    ("academic_year", "la_code"),
    ("reached_expected",),
    filters=KS2_READ,
)
SCHOOLS = TableSpec(
    "outcomes_by_school",
    "ks_results",
    ("laestab", "key_stage", "subject"),
    ("outcome",),
)
OUTCOMES = ("AS", "NS", "A")  # A (absent) and NS are not the expected standard
RULES = Sdc()


def _records(counts: dict[tuple[str, str, str], int]) -> pa.Table:
    """One row per pupil: (school, year, outcome) -> pupils, key stage 2 reading."""
    cols: dict[str, list] = {
        c: []
        for c in (
            "laestab",
            "la_code",
            "academic_year",
            "key_stage",
            "subject",
            "outcome",
            "reached_expected",
        )
    }
    for (school, year, outcome), n in counts.items():
        for _ in range(n):
            cols["laestab"].append(school)
            cols["la_code"].append(school[:3])
            cols["academic_year"].append(year)
            cols["key_stage"].append("2")
            cols["subject"].append("READ")
            cols["outcome"].append(outcome)
            reached = outcome in codesets.KS_EXPECTED
            cols["reached_expected"].append("Y" if reached else "N")
    n = len(cols["laestab"])
    return pa.table({**cols, "__pupil_key": np.arange(n)})


def _publish(store: Store, release: str, spec: TableSpec) -> pa.Table:
    """Build one table as a release would and record its cells."""
    cube = aggregate.build_table(store, spec, "recs", RULES)
    published_cells.record(
        store,
        release,
        "agreement-" + release,
        spec.name,
        aggregate.grid_names(spec, cube),
        cube.values.ravel(),
        aggregate.shown(cube, RULES),
    )
    return aggregate.table_arrow(spec, cube, RULES)


def _intervals(
    counts: dict[tuple[str, str, str], int],
    tables: list[tuple[TableSpec, pa.Table]],
    knowing: int | None = None,
) -> list[tuple[str, float, float, float]]:
    """The intruder: the finest cells (school, year, outcome; the categories the
    tables show) as unknowns, every published cell of every table (of the first
    ``knowing`` only, when given) an equation, every unknown non-negative; for each
    suppressed cell of every table its true value and least and greatest value."""
    schools = sorted({k[0] for k in counts})
    years = sorted({k[1] for k in counts})
    outcomes = sorted({k[2] for k in counts})
    fine = [(s, y, o) for s in schools for y in years for o in outcomes]

    def attrs(f: tuple[str, str, str]) -> dict[str, str]:
        s, y, o = f
        reached = "Y" if o in codesets.KS_EXPECTED else "N"
        return {
            "laestab": s,
            "la_code": s[:3],
            "academic_year": y,
            "outcome": o,
            "reached_expected": reached,
            "key_stage": "2",
            "subject": "READ",
        }

    known = [attrs(f) for f in fine]
    rows, rhs, hidden = [], [], []
    for i, (spec, table) in enumerate(tables):
        dims = [*spec.rows, *spec.columns]
        for r in table.to_pylist():
            member = np.array(
                [
                    all(r[d] == "Total" or a[d] == str(r[d]) for d in dims)
                    for a in known
                ],
                dtype=float,
            )
            if r["symbol"] is None and (knowing is None or i < knowing):
                rows.append(member)
                rhs.append(r["value"])
            elif r["symbol"] == "c":
                truth = sum(
                    counts.get(f, 0) for f, m in zip(fine, member, strict=True) if m
                )
                hidden.append((f"{spec.name} {r}", member, truth))
    a = np.array(rows, dtype=float).reshape(-1, len(fine))
    b = np.array(rhs, dtype=float)
    out = []
    for label, member, truth in hidden:
        lo = linprog(member, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-member, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        assert lo.status == 0
        top = np.inf if hi.status == 3 else -hi.fun
        out.append((label, truth, lo.fun, top))
    return out


def _unprotected(
    intervals: list[tuple[str, float, float, float]],
    earlier: list[tuple[str, float, float, float]] | None = None,
) -> list:
    """Suppressed cells narrower than their protection: a small count (1 to
    threshold - 1) less than ``min_interval`` wide, any other less than 1; not
    counting a cell ``earlier`` (the intervals from the first table alone) already
    pinned: the second table hides it too, but it was public before."""
    bad = []
    for i, (label, truth, lo, hi) in enumerate(intervals):
        need = RULES.min_interval if 0 < truth < RULES.threshold else 1
        if earlier is not None and earlier[i][3] - earlier[i][2] < need - 1e-6:
            continue
        if hi - lo < need - 1e-6:
            bad.append((label, truth, lo, hi))
    return bad


def _world() -> dict[tuple[str, str, str], int]:
    """Three LAs of five schools, counts from small to large: the school table's
    own hypercubes hide a school's AS count with a school in another LA, which the
    LA trend table (AS is the expected standard) then gives away."""
    rng = np.random.default_rng(1)
    counts = {}
    for school in ("8070001", "8070002", "8160001", "8160002", "8920001"):
        for year in ("2021", "2022"):
            for outcome in OUTCOMES:
                n = int(rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 40]))
                if n:
                    counts[(school, year, outcome)] = n
    return counts


def _plan(spec: TableSpec) -> ReleasePlan:
    items = tuple(f"ks_results.{d}" for d in (*spec.rows, *spec.columns))
    return ReleasePlan(
        "A", "r", "g", "p", "aggregate", items, tables=(spec,), sdc=RULES
    )


def test_trends_then_a_school_table_pin_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = _world()
    # Before this change: the school table protected on its own only.
    store = Store()
    store.register("recs", _records(counts))
    trends = _publish(store, "trends", TRENDS)
    with monkeypatch.context() as m:
        m.setattr(crossrelease, "protect", lambda *a, **k: 0)
        alone = _publish(store, "schools", SCHOOLS)
    before = _unprotected(_intervals(counts, [(TRENDS, trends), (SCHOOLS, alone)]))
    assert before, "the attack should succeed against the old suppression"
    # Alone, the school table passed the check; the check now refuses it.
    store.rows(f"DELETE FROM {published_cells.TABLE} WHERE release_id = 'schools'")
    reasons = check.check_table(
        store, _plan(SCHOOLS), SCHOOLS.name, alone, source="recs"
    )
    assert any("combining" in r or "earlier published" in r for r in reasons), reasons
    # With it: the same data, the same order, nothing pinned or narrowed.
    schools = _publish(store, "schools2", SCHOOLS)
    after = _unprotected(_intervals(counts, [(TRENDS, trends), (SCHOOLS, schools)]))
    assert after == []
    store.rows(f"DELETE FROM {published_cells.TABLE} WHERE release_id = 'schools2'")
    assert (
        check.check_table(store, _plan(SCHOOLS), SCHOOLS.name, schools, source="recs")
        == []
    )


def test_a_school_table_then_trends_pin_nothing() -> None:
    counts = _world()
    store = Store()
    store.register("recs", _records(counts))
    schools = _publish(store, "schools", SCHOOLS)
    trends = _publish(store, "trends", TRENDS)
    got = _intervals(counts, [(SCHOOLS, schools), (TRENDS, trends)])
    assert _unprotected(got) == []
    store.rows(f"DELETE FROM {published_cells.TABLE} WHERE release_id = 'trends'")
    assert (
        check.check_table(store, _plan(TRENDS), TRENDS.name, trends, source="recs")
        == []
    )


worlds = st.dictionaries(
    st.tuples(
        st.sampled_from(["8070001", "8070002", "8160001", "8160002", "8920001"]),
        st.sampled_from(["2021", "2022"]),
        st.sampled_from(OUTCOMES),
    ),
    st.one_of(st.integers(0, 9), st.integers(10, 40)),
    min_size=4,
    max_size=20,
)


@settings(max_examples=25, deadline=None)
@given(worlds, st.booleans())
def test_every_suppressed_cell_keeps_its_interval_across_both_tables(
    counts: dict[tuple[str, str, str], int], trends_first: bool
) -> None:
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        return
    store = Store()
    store.register("recs", _records(counts))
    order = [TRENDS, SCHOOLS] if trends_first else [SCHOOLS, TRENDS]
    tables = [(spec, _publish(store, spec.name, spec)) for spec in order]
    first = _intervals(counts, tables, knowing=1)
    assert _unprotected(_intervals(counts, tables), first) == []


def test_cells_of_a_rejected_file_stay_x_and_are_not_secrets() -> None:
    """``x`` cells are recorded as missing, never as suppressed cells to protect."""
    cube = sdc.Cube(
        ("a",), (("1", "2"),), np.array([0.0, 40.0, 40.0]), np.array([0, 40, 40.0])
    )
    cube.status[0] = sdc.MISSING
    assert list(aggregate.shown(cube, RULES)) == ["missing", "exact", "exact"]
    table = aggregate.table_arrow(TableSpec("t", "ks_results", ("a",)), cube, RULES)
    assert table.column("symbol").to_pylist()[0] == "x"


# Disclosure control over every linked table at once: an intruder does not stop at
# two tables. Tables of one release at different levels of the hierarchy (a school
# table and an LA table) count the same records as much as two releases do, and a
# table that suppresses nothing can still complete an earlier table's equations.

BY_LA = TableSpec(
    "outcomes_by_la", "ks_results", ("la_code", "key_stage", "subject"), ("outcome",)
)
LA_REACHED = TableSpec(
    "ks2_read_la_reached",
    "ks_results",
    ("la_code",),
    ("reached_expected",),
    filters=KS2_READ,
)
# A world where the two tables of one release, each protected on its own, give away
# 20 suppressed cells once combined.
ONE_RELEASE = {
    ("8070001", "2021", "AS"): 1,
    ("8070001", "2021", "NS"): 5,
    ("8070001", "2021", "A"): 40,
    ("8070001", "2022", "AS"): 1,
    ("8070001", "2022", "NS"): 3,
    ("8070001", "2022", "A"): 3,
    ("8070002", "2021", "AS"): 40,
    ("8070002", "2021", "NS"): 1,
    ("8070002", "2021", "A"): 5,
    ("8070002", "2022", "AS"): 2,
    ("8070002", "2022", "A"): 12,
    ("8160001", "2021", "NS"): 2,
    ("8160001", "2021", "A"): 5,
    ("8160001", "2022", "AS"): 5,
    ("8160001", "2022", "NS"): 1,
    ("8160001", "2022", "A"): 40,
    ("8160002", "2021", "AS"): 12,
    ("8160002", "2021", "NS"): 40,
    ("8160002", "2022", "AS"): 12,
    ("8160002", "2022", "NS"): 2,
    ("8160002", "2022", "A"): 5,
    ("8920001", "2021", "AS"): 40,
    ("8920001", "2021", "NS"): 2,
    ("8920001", "2021", "A"): 12,
    ("8920001", "2022", "AS"): 1,
    ("8920001", "2022", "NS"): 2,
    ("8920001", "2022", "A"): 40,
}


def _release(
    counts: dict, specs: list[TableSpec], linked: bool = True
) -> list[tuple[TableSpec, pa.Table]]:
    """The tables of one release, built as ``build._aggregate`` builds them
    (``linked=False``: each on its own, as before this change)."""
    store = Store()
    store.register("recs", _records(counts))
    cubes = aggregate.build_tables(store, specs, lambda spec: "recs", RULES, linked)
    return [
        (s, aggregate.table_arrow(s, c, RULES))
        for s, c in zip(specs, cubes, strict=True)
    ]


def _release_check(counts: dict, tables: list[tuple[TableSpec, pa.Table]]) -> list:
    """The output check of one release's tables, as ``check.check_release`` runs it:
    each table, then one linked audit of them all."""
    store = Store()
    store.register("recs", _records(counts))
    plan = _plan(tables[0][0])
    plan = type(plan)(**{**plan.__dict__, "tables": tuple(s for s, _ in tables)})
    collected: list = []
    reasons = []
    for spec, table in tables:
        reasons += check.check_table(
            store, plan, spec.name, table, source="recs", linked_into=collected
        )
    return reasons + tablecheck.release_linked_reasons(store, plan, collected)


def test_a_school_table_and_an_la_table_of_one_release_pin_nothing() -> None:
    specs = [SCHOOLS, BY_LA]
    # Before: each table protected on its own; the intruder pins cells by
    # combining the two (not counting LA cells the school table alone gives).
    alone = _release(ONE_RELEASE, specs, linked=False)
    first = _intervals(ONE_RELEASE, alone, knowing=1)
    pinned = _unprotected(_intervals(ONE_RELEASE, alone), first)
    assert len(pinned) >= 10, pinned
    # The check refuses that release ...
    reasons = _release_check(ONE_RELEASE, alone)
    assert any("this release's" in r or "combining" in r for r in reasons), reasons
    # ... and the builder now protects the two together: nothing pinned, and the
    # check passes it.
    both = _release(ONE_RELEASE, specs)
    first = _intervals(ONE_RELEASE, both, knowing=1)
    assert _unprotected(_intervals(ONE_RELEASE, both), first) == []
    assert _release_check(ONE_RELEASE, both) == []


@settings(max_examples=15, deadline=None)
@given(worlds)
def test_every_table_of_one_release_keeps_its_intervals(counts: dict) -> None:
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        return
    tables = _release(counts, [SCHOOLS, BY_LA])
    first = _intervals(counts, tables, knowing=1)
    assert _unprotected(_intervals(counts, tables), first) == []


def _seeded_world(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    counts = {}
    for school in ("8070001", "8070002", "8160001", "8160002", "8920001"):
        for year in ("2021", "2022"):
            for outcome in ("AS", "NS", "A"):
                n = int(rng.choice([0, 1, 2, 3, 5, 8, 12, 20, 40]))
                if n:
                    counts[(school, year, outcome)] = n
    return counts


def test_a_table_with_nothing_suppressed_is_audited_with_earlier_tables() -> None:
    """An LA table with every cell 10 or more suppresses nothing, yet it gives away
    suppressed cells of the school table published before it (the check used to
    audit links only for tables with suppressed cells of their own)."""
    counts = _seeded_world(5)
    store = Store()
    store.register("recs", _records(counts))
    schools = _publish(store, "schools", SCHOOLS)
    scratch = Store()
    scratch.register("recs", _records(counts))
    whole = aggregate.build_table(scratch, LA_REACHED, "recs", Sdc(threshold=1))
    table = aggregate.table_arrow(LA_REACHED, whole, RULES)
    values = np.array(table.column("value").to_pylist(), dtype=float)
    assert not ((values > 0) & (values < RULES.threshold)).any()
    assert table.column("symbol").null_count == table.num_rows  # nothing hidden
    # The intruder recovers school cells from the two.
    first = _intervals(counts, [(SCHOOLS, schools)])
    both = _intervals(counts, [(SCHOOLS, schools), (LA_REACHED, table)])
    assert _unprotected(both, first), "the LA table should give school cells away"
    reasons = check.check_table(
        store, _plan(LA_REACHED), LA_REACHED.name, table, source="recs"
    )
    assert any("earlier published tables" in r for r in reasons), reasons
    # Built as a release builds it, it is protected with the school table.
    built = _publish(store, "la", LA_REACHED)
    pair = [(SCHOOLS, schools), (LA_REACHED, built)]
    got = _intervals(counts, pair)
    assert _unprotected(got, _intervals(counts, pair, knowing=1)) == []


NATIONAL = TableSpec(
    "ks2_read_by_outcome",
    "ks_results",
    ("academic_year",),
    ("outcome",),
    filters=KS2_READ,
)


def _pinned(counts: dict, tables: list, knowing: int) -> set[str]:
    """Suppressed cells the intruder holding ``tables`` pins or narrows, not
    counting those the first ``knowing`` tables alone gave away."""
    first = _intervals(counts, tables, knowing=knowing)
    return {b[0] for b in _unprotected(_intervals(counts, tables), first)}


def test_three_tables_over_two_releases_pin_nothing() -> None:
    """The school table is published; then a release of the LA trend table and a
    national table by year and outcome. Before: each new table was audited with the
    school table alone (nothing either gives away with it), and the intruder
    holding all three recovers the trend table's national cells through the national
    table. Now the three are one system, built and checked."""
    counts = _seeded_world(3)

    def attack(linked: bool) -> tuple[set[str], set[str], list[str]]:
        store = Store()
        store.register("recs", _records(counts))
        schools = _publish(store, "schools", SCHOOLS)
        specs = [TRENDS, NATIONAL]
        cubes = aggregate.build_tables(store, specs, lambda s: "recs", RULES, linked)
        made = [
            (s, aggregate.table_arrow(s, c, RULES))
            for s, c in zip(specs, cubes, strict=True)
        ]
        tables = [(SCHOOLS, schools), *made]
        every = _pinned(counts, tables, knowing=1)
        with_schools = _pinned(counts, [tables[0], tables[1]], 1) | _pinned(
            counts, [tables[0], tables[2]], 1
        )
        plan = _plan(TRENDS)
        plan = type(plan)(**{**plan.__dict__, "tables": tuple(specs)})
        collected: list = []
        reasons = []
        for spec, table in made:
            reasons += check.check_table(
                store, plan, spec.name, table, source="recs", linked_into=collected
            )
        reasons += tablecheck.release_linked_reasons(store, plan, collected)
        return every, with_schools, reasons

    every, with_schools, reasons = attack(linked=False)
    assert every and not with_schools, (every, with_schools)
    assert reasons, "the check should refuse the release built table by table"
    every, _, reasons = attack(linked=True)
    assert every == set()
    assert reasons == []


def test_the_whole_release_audit_refuses_what_combining_its_tables_pins() -> None:
    """The builder's one audit of a whole release (``protected_together``, which
    lets it skip re-protecting each table after ``harmonise``) must see what an
    intruder gets by combining the release's tables: two tables protected each on
    its own are not protected together; the builder's own release is."""
    store = Store()
    store.register("recs", _records(ONE_RELEASE))
    specs = [SCHOOLS, BY_LA]
    alone = aggregate.build_tables(store, specs, lambda spec: "recs", RULES, False)
    assert not crossrelease.protected_together(store, specs, list(alone), RULES)
    both = aggregate.build_tables(store, specs, lambda spec: "recs", RULES)
    assert crossrelease.protected_together(store, specs, list(both), RULES)


BY_YEAR = TableSpec(
    "ks2_read_by_year",
    "ks_results",
    ("academic_year",),
    ("reached_expected",),
    filters=KS2_READ,
)


def test_a_release_is_audited_and_repaired_as_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A release's tables are first audited once as one system with the earlier
    tables (``aggregate.as_one``) and, where that finds a cell short, repaired as
    one (``crossrelease.repair_release``), with no table protected on its own
    unless that does not settle. Either way the delivered release pins nothing an
    intruder holding every table could not pin from the earlier ones, and the
    check passes it."""
    calls: dict = {"protect": [], "repair": []}
    protect, repair = crossrelease.protect, crossrelease.repair_release

    def counted_repair(*a, **k):
        calls["repair"].append(repair(*a, **k))
        return calls["repair"][-1]

    def counted_protect(store, spec, *a, **k):
        calls["protect"].append(spec.name)
        return protect(store, spec, *a, **k)

    monkeypatch.setattr(crossrelease, "protect", counted_protect)
    monkeypatch.setattr(crossrelease, "repair_release", counted_repair)
    taken = {"one audit": 0, "repaired as one": 0, "table by table": 0}
    for seed in range(6):
        counts = _seeded_world(seed)
        store = Store()
        store.register("recs", _records(counts))
        schools = _publish(store, "schools", SCHOOLS)
        calls["protect"], calls["repair"] = [], []
        specs = [TRENDS, BY_YEAR, NATIONAL]
        cubes = aggregate.build_tables(store, specs, lambda s: "recs", RULES)
        if calls["repair"] == [None]:
            taken["one audit"] += 1
        elif calls["repair"][-1] is None:
            taken["repaired as one"] += 1
        else:
            taken["table by table"] += 1
        # No table protected on its own where the whole release settled.
        assert (calls["protect"] == []) == (calls["repair"][-1] is None), calls
        made = [
            (s, aggregate.table_arrow(s, c, RULES))
            for s, c in zip(specs, cubes, strict=True)
        ]
        assert _pinned(counts, [(SCHOOLS, schools), *made], knowing=1) == set()
        plan = _plan(TRENDS)
        plan = type(plan)(**{**plan.__dict__, "tables": tuple(specs)})
        collected: list = []
        reasons = []
        for spec, table in made:
            reasons += check.check_table(
                store, plan, spec.name, table, source="recs", linked_into=collected
            )
        assert reasons + tablecheck.release_linked_reasons(store, plan, collected) == []
    # Over these worlds: one audit 1, repaired as one 4, table by table 1.
    assert taken["one audit"] and taken["repaired as one"], taken
