"""title: Protection intervals, earlier releases and cell key perturbation

Secondary suppression by hypercubes leaves every sensitive count free over an interval
at least ``min_interval`` wide (checked here by two LPs per cell, the definition); the
output check refuses a table whose suppression was weakened on purpose, one whose
suppressed cell an earlier release over the same records published, and a builder's
witness that does not hold. Cell key perturbation gives the same cell the same value
in every table, and a differencing attack between two overlapping perturbed tables
recovers nothing exact.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pupilshare.plan import ReleasePlan, Sdc, TableSpec
from pupilshare.release import (
    aggregate,
    audit,
    cellkey,
    check,
    published_cells,
    sdc,
    tablecheck,
)
from pupilshare.store import Store

SPEC = TableSpec("reached", "ks_results", ("la_code", "sex"), ("reached_expected",))
LAS = ["201", "202", "203", "204"]


def _intervals(cube: sdc.Cube) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest value of every suppressed cell given all published cells,
    every line equation and non-negative cells: two LPs per cell."""
    a, b, _ = audit.line_equations(
        np.where(cube.suppressed, np.nan, cube.values), cube.suppressed
    )
    a = a.toarray()
    lo, hi = [], []
    for j in range(a.shape[1]):
        c = np.zeros(a.shape[1])
        c[j] = 1
        lo.append(linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs").fun)
        r = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi.append(np.inf if r.status == 3 else -r.fun)
    return np.array(lo), np.array(hi)


three_way = st.lists(
    st.one_of(st.integers(0, 9), st.integers(10, 60)), min_size=24, max_size=24
)


@settings(max_examples=30, deadline=None)
@given(three_way, st.integers(2, 8))
def test_every_small_count_keeps_its_protection_interval(
    cells: list[int], width: int
) -> None:
    a = sdc.with_margins(np.array(cells, dtype=float).reshape(4, 3, 2))
    labels = (("0", "1", "2", "3"), ("0", "1", "2"), ("0", "1"))
    cube = sdc.Cube(("a", "b", "c"), labels, a, a.copy())
    sdc.protect(cube, Sdc(min_interval=width))
    if not cube.suppressed.any():
        return
    lo, hi = _intervals(cube)
    x = cube.values[cube.suppressed]
    small = cube.status[cube.suppressed] == sdc.PRIMARY
    assert (hi[small] - lo[small] >= width - 1e-6).all()
    assert (hi - lo >= 1 - 1e-6).all()  # no suppressed cell recoverable
    assert ((lo <= x + 1e-6) & (x <= hi + 1e-6)).all()


def _records(seed: int, n: int = 400) -> pa.Table:
    rng = np.random.default_rng(seed)
    la = rng.choice(LAS, n, p=[0.45, 0.35, 0.17, 0.03])
    return pa.table(
        {
            "la_code": la,
            "sex": rng.choice(["F", "M"], n),
            "reached_expected": rng.choice(["Y", "N"], n, p=[0.8, 0.2]),
            "__pupil_key": np.arange(n),
        }
    )


def _plan(rules: Sdc, spec: TableSpec = SPEC) -> ReleasePlan:
    items = tuple(f"ks_results.{d}" for d in (*spec.rows, *spec.columns))
    return ReleasePlan(
        "A", "r", "g", "p", "aggregate", items, tables=(spec,), sdc=rules
    )


def _built(
    store: Store, rules: Sdc, spec: TableSpec = SPEC
) -> tuple[sdc.Cube, pa.Table]:
    cube = aggregate.build_table(store, spec, "recs", rules)
    return cube, aggregate.table_arrow(spec, cube, rules)


def _witness(cube: sdc.Cube) -> tablecheck.Witness:
    return tablecheck.Witness(cube.labels, cube.cubes.corners, cube.cubes.signs)


def test_the_audit_passes_the_builder_and_refuses_a_weakened_table() -> None:
    store = Store()
    store.register("recs", _records(1))
    rules = Sdc()
    cube, table = _built(store, rules)
    assert cube.suppressed.any()
    plan = _plan(rules)
    for offered in (_witness(cube), None):  # the check also finds its own
        assert (
            check.check_table(
                store, plan, "reached", table, source="recs", witness=offered
            )
            == []
        )
    # Weaken on purpose: publish one complement (a secondary cell) again.
    flat = cube.status.ravel()
    symbols = table.column("symbol").to_pylist()
    values = table.column("value").to_pylist()
    i = int(np.flatnonzero(flat == sdc.SECONDARY)[0])
    values[i], symbols[i] = int(cube.values.ravel()[i]), None
    weak = table.set_column(
        table.column_names.index("value"), "value", pa.array(values, pa.int64())
    )
    weak = weak.set_column(
        weak.column_names.index("symbol"), "symbol", pa.array(symbols, pa.string())
    )
    for witness in (_witness(cube), None):  # the builder's cubes no longer vouch
        reasons = check.check_table(
            store, plan, "reached", weak, source="recs", witness=witness
        )
        assert any("protection interval" in r for r in reasons), reasons


def test_a_lying_witness_certifies_nothing() -> None:
    """Directions that do not keep the lines' sums are dropped by the check's own
    equations, so they cannot make an unsafe cell pass."""
    v = sdc.with_margins(np.array([[3.0, 40.0], [30.0, 50.0]]))
    m = np.zeros(v.shape, bool)
    m[0, 0] = m[0, 2] = True  # a cell and its row total: the column gives it away
    a, b, x0 = audit.line_equations(v, m)
    corners = np.array([[0, 1]])
    rise, fall = audit.witnessed(a, x0, corners, np.array([[1, -1]]))
    assert not rise.any() and not fall.any()
    assert audit.audit(a, b, x0, 1.0, rise, fall).all()


def test_a_cell_an_earlier_release_published_is_not_protection() -> None:
    """The national figures were published before (the trend statistics); a new
    table that suppresses one of them protects nothing, and is refused."""
    store = Store()
    store.register("recs", _records(2))
    rules = Sdc()
    cube, table = _built(store, rules)
    plan = _plan(rules)
    names = aggregate.grid_names(SPEC, cube).to_numpy(zero_copy_only=False)
    margins = np.array(["la_code=" not in n for n in names])  # national cells
    published_cells.record(
        store,
        "earlier",
        "trends",
        "national",
        names[margins],
        cube.values.ravel()[margins],
        np.full(int(margins.sum()), "exact"),
    )
    symbols = table.column("symbol").to_pylist()
    grand = int(np.flatnonzero(margins & (cube.values.ravel() > 0))[-1])
    symbols[grand] = "c"
    values = table.column("value").to_pylist()
    values[grand] = None
    hid = table.set_column(
        table.column_names.index("value"), "value", pa.array(values, pa.int64())
    )
    hid = hid.set_column(
        hid.column_names.index("symbol"), "symbol", pa.array(symbols, pa.string())
    )
    reasons = check.check_table(store, plan, "reached", hid, source="recs")
    assert any("earlier release" in r for r in reasons), reasons
    # The builder, told of the earlier release, never picks a public complement.
    again = aggregate.build_table(store, SPEC, "recs", rules)
    assert not (again.public & (again.status == sdc.SECONDARY)).any()
    assert again.public.any()


def _perturbed(store: Store, spec: TableSpec, rules: Sdc) -> dict[tuple, int | None]:
    cube = aggregate.build_table(store, spec, "recs", rules)
    table = aggregate.table_arrow(spec, cube, rules)
    dims = [*spec.rows, *spec.columns]
    return {tuple(r[d] for d in dims): r["value"] for r in table.to_pylist()}


def _with_keys(store: Store, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, cellkey.KEYS, n)
    store.register(
        cellkey.RECORD_KEYS, pa.table({"pupil_key": np.arange(n), "rk": keys})
    )


def test_the_same_cell_has_the_same_value_in_every_table() -> None:
    store = Store()
    store.register("recs", _records(3, 2000))
    _with_keys(store, 2000)
    rules = Sdc(method="cell_key")
    by_sex = _perturbed(store, SPEC, rules)
    by_la = _perturbed(
        store, TableSpec("la", "ks_results", ("la_code",), ("reached_expected",)), rules
    )
    for (la, r), v in by_la.items():
        assert by_sex[(la, "Total", r)] == v
    true = {
        (la, s, r): n
        for la, s, r, n in store.rows(
            "SELECT la_code, sex, reached_expected, count(*) FROM recs GROUP BY ALL"
        )
    }
    changed = [k for k, n in true.items() if by_sex[k] not in (None, n)]
    assert changed  # the noise is real
    assert all(v is None or v == 0 or v >= rules.threshold for v in by_sex.values())


def test_differencing_two_overlapping_perturbed_tables_recovers_nothing() -> None:
    """The intruder holds a table of all pupils and one of all but a few (another
    agreement's scope); subtracting gives the few pupils' counts exactly without
    perturbation, but under perturbation the difference of two independent changes
    hides them: the true count is seldom the difference, and each difference seen
    is consistent with several true counts."""
    rules = Sdc(method="cell_key", threshold=1)
    exact, seen = 0, {}
    trials = 60
    for t in range(trials):
        recs = _records(100 + t, 1500)
        store = Store()
        store.register("recs", recs)
        _with_keys(store, 1500, seed=t)
        spec = TableSpec("la", "ks_results", ("la_code",), ("reached_expected",))
        whole = _perturbed(store, spec, rules)
        few = int(np.random.default_rng(t).integers(1, 4))
        store.register("recs", recs.slice(few))  # the sliver: the first few pupils
        rest = _perturbed(store, spec, rules)
        guess = whole[("Total", "Total")] - rest[("Total", "Total")]
        exact += guess == few
        seen.setdefault(guess, set()).add(few)
    assert exact < trials / 2
    assert sum(len(v) > 1 for v in seen.values()) >= 2
    # Without perturbation the same attack is always exact.
    assert all(len(_unperturbed_attack(t)) == 1 for t in range(3))


def _unperturbed_attack(t: int) -> set[int]:
    recs = _records(100 + t, 1500)
    store = Store()
    store.register("recs", recs)
    spec = TableSpec("la", "ks_results", ("la_code",), ("reached_expected",))
    rules = Sdc(threshold=1)
    whole = _perturbed(store, spec, rules)
    store.register("recs", recs.slice(2))
    rest = _perturbed(store, spec, rules)
    return {whole[("Total", "Total")] - rest[("Total", "Total")]}


def test_the_check_refuses_a_perturbed_value_changed_by_hand() -> None:
    store = Store()
    store.register("recs", _records(4, 1000))
    _with_keys(store, 1000)
    rules = Sdc(method="cell_key")
    cube = aggregate.build_table(store, SPEC, "recs", rules)
    table = aggregate.table_arrow(SPEC, cube, rules)
    plan = _plan(rules)
    assert check.check_table(store, plan, "reached", table, source="recs") == []
    values = table.column("value").to_pylist()
    i = next(j for j, v in enumerate(values) if v and v > 20)
    values[i] += 1
    bad = table.set_column(
        table.column_names.index("value"), "value", pa.array(values, pa.int64())
    )
    reasons = check.check_table(store, plan, "reached", bad, source="recs")
    assert any("perturbation" in r for r in reasons), reasons


def test_the_ptable_is_unbiased_and_bounded() -> None:
    table = cellkey.ptable(4, 2.0)
    assert (table[0] == 0).all()
    assert np.abs(table).max() <= 4
    for c in range(1, len(table)):
        assert (c + table[c] >= 0).all()
        assert abs(table[c].mean()) < 0.05


def test_a_cell_whose_file_was_rejected_is_x_never_0() -> None:
    """LA 202's key stage 2 file for 2023 was rejected: its cells are not available
    (x), by either method; every other cell is a count."""
    store = Store()
    rng = np.random.default_rng(5)
    n = 600
    year = rng.choice(["2022", "2023"], n)
    la = rng.choice(["201", "202"], n)
    keep = ~((year == "2023") & (la == "202"))
    store.register(
        "recs",
        pa.table(
            {
                "academic_year": year[keep],
                "la_code": la[keep],
                "reached_expected": rng.choice(["Y", "N"], n)[keep],
                "key_stage": np.full(int(keep.sum()), "2"),
                "__pupil_key": np.arange(n)[keep],
            }
        ),
    )
    store.rows(
        "CREATE TABLE rejections (rejection_id INTEGER, dataset VARCHAR, "
        "file_name VARCHAR, sha256 VARCHAR, received_at TIMESTAMP, "
        "error_count BIGINT, report_path VARCHAR)"
    )
    store.rows(
        "INSERT INTO rejections VALUES (1, 'ks_results', "
        "'ks_results/ks2_2023_202.csv', 'x', now(), 3, NULL)"
    )
    spec = TableSpec(
        "t",
        "ks_results",
        ("academic_year", "la_code"),
        ("reached_expected",),
        filters=(("key_stage", ("2",)),),
    )
    for rules in (Sdc(), Sdc(method="cell_key")):
        _with_keys(store, n)
        cube = aggregate.build_table(store, spec, "recs", rules)
        rows = aggregate.table_arrow(spec, cube, rules).to_pylist()
        at = ("2023", "202")
        lost = [r for r in rows if (r["academic_year"], r["la_code"]) == at]
        assert lost and all(r["symbol"] == "x" and r["value"] is None for r in lost)
        assert not [r for r in rows if r["symbol"] == "x" and r not in lost]
        assert cube.not_available == ("ks_results/ks2_2023_202.csv",)


def test_the_register_says_which_method_protects_a_share() -> None:
    from pupilshare.governance.register import disclosure_phrase

    assert "cell key perturbation" in disclosure_phrase(
        "aggregate", {"method": "cell_key"}
    )
    said = disclosure_phrase("aggregate", {"min_interval": 7})
    assert "suppression" in said and "7" in said
    assert disclosure_phrase("pseudonymised", {}) == ""


def _grid_records(counts: list[int]) -> pa.Table:
    """Records behind a 4 x 3 x 2 table of counts (la_code x sex x reached)."""
    grid = np.array(counts).reshape(4, 3, 2)
    at = np.argwhere(grid > 0)
    reps = grid[grid > 0]
    rows = np.repeat(at, reps, axis=0)
    return pa.table(
        {
            "la_code": np.array(LAS)[rows[:, 0]],
            "sex": np.array(["F", "M", "U"])[rows[:, 1]],
            "reached_expected": np.array(["N", "Y"])[rows[:, 2]],
            "__pupil_key": np.arange(len(rows)),
        }
    )


def _leaks(cube: sdc.Cube, mask: np.ndarray, rules: Sdc) -> bool:
    """Whether some cell hidden by ``mask`` is short of its protection, by the
    definition: its exact interval from two LPs given every published cell."""
    shown = np.where(mask, np.nan, cube.values)
    hidden = sdc.Cube(cube.dims, cube.labels, shown, cube.contributors)
    hidden.status = mask.astype(np.uint8)
    lo, hi = _intervals(hidden)
    x = cube.values[mask]
    small = (x > 0) & (x < rules.threshold)
    tol = 1e-6
    enough = np.where(
        small,
        (hi - lo >= rules.min_interval - tol)
        & (hi - x >= 1 - tol)
        & (x - lo >= np.minimum(x, 1) - tol),
        hi - lo >= 1 - tol,
    )
    return not enough.all()


@settings(max_examples=25, deadline=None)
@given(three_way, st.data())
def test_the_audit_refuses_a_weakened_table_exactly_when_it_leaks(
    counts: list[int], data: st.DataObject
) -> None:
    """Any table the builder protects passes the output check; publish any one of
    its complements again and the check refuses it exactly when some hidden cell
    can then be worked out, or narrowed below its interval (two LPs per cell, the
    definition), whether or not the builder's hypercubes are offered."""
    store = Store()
    store.register("recs", _grid_records(counts))
    rules = Sdc()
    cube, table = _built(store, rules)
    plan = _plan(rules)
    assert check.check_table(store, plan, "reached", table, source="recs") == []
    complements = np.flatnonzero(
        (cube.status.ravel() == sdc.SECONDARY) & (cube.values.ravel() > 0)
    )
    if len(complements) == 0:
        return
    i = int(data.draw(st.sampled_from(complements)))
    mask = cube.suppressed.copy()
    mask.ravel()[i] = False
    values = table.column("value").to_pylist()
    symbols = table.column("symbol").to_pylist()
    values[i], symbols[i] = int(cube.values.ravel()[i]), None
    weak = table.set_column(
        table.column_names.index("value"), "value", pa.array(values, pa.int64())
    )
    weak = weak.set_column(
        weak.column_names.index("symbol"), "symbol", pa.array(symbols, pa.string())
    )
    leaks = _leaks(cube, mask, rules)
    for witness in (_witness(cube), None):
        reasons = check.check_table(
            store, plan, "reached", weak, source="recs", witness=witness
        )
        assert bool(reasons) == leaks, (reasons, leaks)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.data())
def test_the_check_refuses_any_edit_of_a_perturbed_table(
    seed: int, data: st.DataObject
) -> None:
    """The check recomputes every perturbed count from the record keys: a value
    moved, a count hidden that the method shows, or a small count shown, anywhere
    in the table, is refused; the table as built passes."""
    store = Store()
    store.register("recs", _records(seed, 300))
    _with_keys(store, 300, seed)
    rules = Sdc(method="cell_key")
    cube = aggregate.build_table(store, SPEC, "recs", rules)
    table = aggregate.table_arrow(SPEC, cube, rules)
    plan = _plan(rules)
    assert check.check_table(store, plan, "reached", table, source="recs") == []
    values = table.column("value").to_pylist()
    symbols = table.column("symbol").to_pylist()
    i = data.draw(st.integers(0, len(values) - 1))
    if values[i] is None:  # a small perturbed count: show it
        values[i], symbols[i] = int(cube.values.ravel()[i]), None
    elif data.draw(st.booleans()):  # hide a count the method shows
        values[i], symbols[i] = None, "c"
    else:  # move it
        values[i] += data.draw(st.sampled_from([-3, -2, -1, 1, 2, 3]))
    bad = table.set_column(
        table.column_names.index("value"), "value", pa.array(values, pa.int64())
    )
    bad = bad.set_column(
        bad.column_names.index("symbol"), "symbol", pa.array(symbols, pa.string())
    )
    assert check.check_table(store, plan, "reached", bad, source="recs")


def test_a_pupil_with_two_records_in_a_cell_counts_once() -> None:
    """Cells count distinct pupils (the builder's and the check's SQL, each its
    own): a pupil with two records in one cell is one pupil there, and a pupil
    with no key is no one."""
    recs = _records(7, 200)
    again = recs.slice(0, 30)  # the first 30 pupils' records, twice
    nobody = again.slice(0, 1).set_column(
        3, "__pupil_key", pa.array([None], pa.int64())
    )
    store = Store()
    store.register("recs", pa.concat_tables([recs, again, nobody]))
    rules = Sdc()
    cube, table = _built(store, rules)
    assert cube.values[-1, -1, -1] == 200  # the grand total: pupils, not records
    assert check.check_table(store, _plan(rules), "reached", table, "recs") == []


SCHOOLS = TableSpec(
    "outcomes_by_school",
    "ks_results",
    ("laestab", "key_stage", "subject"),
    ("outcome",),
)


def _school_records(n: int = 12_000, schools: int = 120) -> pa.Table:
    """The school table's shape (schools x key stage x subject x outcome), small:
    rare outcomes make small counts in most schools."""
    rng = np.random.default_rng(17)
    school = (schools * rng.random(n) ** 1.15).astype(int)
    ks = np.where(school % 5 == 0, "3", rng.choice(["1", "2"], n))
    subject = rng.choice(["READ", "MATH", "SCI"], n)
    outcome = rng.choice(
        ["EXS", "WTS", "GDS", "HNM", "A"], n, p=[0.6, 0.2, 0.12, 0.05, 0.03]
    )
    return pa.table(
        {
            "laestab": (2_000_000 + school).astype(str),
            "key_stage": ks,
            "subject": subject,
            "outcome": outcome,
            "__pupil_key": np.arange(n),
        }
    )


def test_a_school_table_passes_and_a_weakened_copy_is_refused() -> None:
    """The school table as built passes the check (its hypercubes verified); the
    same table with every other suppressed cell of one small count's line across
    schools published again gives that count away (the line's total less the rest),
    and is refused, whether or not the builder's hypercubes are offered."""
    store = Store()
    store.register("recs", _school_records())
    rules = Sdc()
    cube, table = _built(store, rules, SCHOOLS)
    plan = _plan(rules, SCHOOLS)
    name = SCHOOLS.name
    assert check.check_table(store, plan, name, table, "recs", _witness(cube)) == []
    small = np.argwhere(cube.status == sdc.PRIMARY)
    p = tuple(small[0])
    line = [tuple(q) for q in np.argwhere(cube.suppressed[:, p[1], p[2], p[3]])]
    others = [(i[0], *p[1:]) for i in line if i[0] != p[0]]
    assert others  # the line across schools held other suppressed cells
    shape = cube.values.shape
    values = table.column("value").to_pylist()
    symbols = table.column("symbol").to_pylist()
    for q in others:
        i = int(np.ravel_multi_index(q, shape))
        values[i], symbols[i] = int(cube.values[q]), None
    weak = table.set_column(
        table.column_names.index("value"), "value", pa.array(values, pa.int64())
    )
    weak = weak.set_column(
        weak.column_names.index("symbol"), "symbol", pa.array(symbols, pa.string())
    )
    for witness in (_witness(cube), None):
        reasons = check.check_table(store, plan, name, weak, "recs", witness)
        assert any("protection interval" in r for r in reasons), reasons
