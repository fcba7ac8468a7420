"""title: Disclosure control of aggregate tables

Primary suppression under the threshold, secondary suppression so no suppressed cell is
recoverable from its rows, columns or totals (checked by linear programming), and the
dominance rule on sums. Tables are written as they would be published.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pupilshare.plan import Sdc
from pupilshare.release import sdc


def protect(table: list[list[int]], **rules) -> sdc.Cube:
    a = sdc.with_margins(np.array(table, dtype=float))
    labels = tuple(tuple(str(i) for i in range(n)) for n in np.array(table).shape)
    cube = sdc.Cube(("r", "c")[: a.ndim], labels, a, a.copy())
    return sdc.protect(cube, Sdc(**rules))


def bounds(cube: sdc.Cube) -> list[tuple[float, float]]:
    """Tightest interval of each suppressed cell an intruder gets from the published
    cells, all line equations and non-negative counts."""
    a, cells = sdc.line_system(cube.suppressed)
    flat_v, flat_s = cube.values.ravel(), cube.suppressed.ravel()
    # Right-hand side: minus the published part of each line.
    full, _ = sdc.line_system(np.ones(cube.values.shape, bool))
    rows = _published_rhs(cube.values.shape, flat_v, flat_s)
    out = []
    for j in range(len(cells)):
        c = np.zeros(len(cells))
        c[j] = 1
        lo = linprog(c, A_eq=a, b_eq=rows, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=a, b_eq=rows, bounds=(0, None), method="highs")
        # Unbounded above (status 3): the cell can be anything, so it is safe.
        out.append((lo.fun, np.inf if hi.status == 3 else -hi.fun))
    return out


def _published_rhs(shape, flat_v, flat_s) -> np.ndarray:
    mask = flat_s.reshape(shape)
    a_all, cells_all = sdc.line_system(np.ones(shape, bool))
    # Rows of the full system that involve suppressed cells, in the same order as
    # line_system(mask): recompute by keeping rows with a suppressed coefficient.
    involved = (a_all[:, mask.ravel()[cells_all]] != 0).any(axis=1)
    pub = ~mask.ravel()[cells_all]
    return -(a_all[involved][:, pub] @ flat_v[cells_all][pub])


def test_a_small_cell_and_its_complements_are_suppressed() -> None:
    cube = protect([[3, 40, 50], [30, 40, 50], [30, 40, 50]])
    s = cube.status
    assert s[0, 0] == sdc.PRIMARY
    # One more in its row and one more in its column, and the fourth corner.
    assert s[0].astype(bool).sum() >= 2 and s[:, 0].astype(bool).sum() >= 2
    assert all(hi - lo >= 1 for lo, hi in bounds(cube))


def test_a_lone_suppressed_cell_in_a_line_never_survives() -> None:
    cube = protect([[5, 100], [100, 100]])
    for axis in (0, 1):
        assert not (cube.suppressed.sum(axis=axis) == 1).any()


def test_true_zeros_are_published() -> None:
    cube = protect([[0, 100], [100, 100]])
    assert not cube.suppressed.any()


def _with_margin_tops(top: np.ndarray) -> np.ndarray:
    """Margins' largest contributions when every contributor is in one cell."""
    n = top.shape[-1]
    for axis in range(top.ndim - 1):
        moved = np.moveaxis(top, axis, -2)
        best = -np.sort(-moved.reshape(*moved.shape[:-2], -1), axis=-1)[..., :n]
        top = np.concatenate([top, np.expand_dims(best, axis)], axis=axis)
    return top


def test_dominance_suppresses_a_sum_led_by_two_contributors() -> None:
    values = sdc.with_margins(np.array([[1000.0, 500.0], [600.0, 700.0]]))
    counts = sdc.with_margins(np.array([[20.0, 20.0], [20.0, 20.0]]))
    top = np.zeros((2, 2, 2))
    top[0, 0] = [600, 350]  # 95% of 1000 from two pupils
    top[0, 1] = [40, 30]
    top[1, 0] = [50, 40]
    top[1, 1] = [60, 50]
    cube = sdc.Cube(
        ("r", "c"), (("a", "b"), ("x", "y")), values, counts, top=_with_margin_tops(top)
    )
    sdc.protect(cube, Sdc())
    assert cube.status[0, 0] == sdc.DOMINANCE
    assert cube.suppressed.sum() >= 4


def test_p_percent_suppresses_a_sum_the_second_largest_could_estimate() -> None:
    """| 1000 = 500 + 300 + 200 others |: the runner-up, knowing its own 300, puts
    the leader at 1000 - 300 - 200 = 500 give or take the others' 200, under 50% of
    500, so with p = 50% the cell is sensitive though the top two make only 80%."""
    values = sdc.with_margins(np.array([[1000.0, 2000.0], [2000.0, 2000.0]]))
    counts = sdc.with_margins(np.full((2, 2), 20.0))
    top = np.zeros((2, 2, 2))
    top[0, 0] = [500, 300]
    top[0, 1] = top[1, 0] = top[1, 1] = [200, 200]
    cube = sdc.Cube(
        ("r", "c"), (("a", "b"), ("x", "y")), values, counts, top=_with_margin_tops(top)
    )
    sdc.protect(cube, Sdc(p_ratio=0.5))
    assert cube.status[0, 0] == sdc.P_PERCENT
    assert len(sdc.determined_cells(cube.suppressed)[0]) == 0
    calm = sdc.Cube(
        ("r", "c"), (("a", "b"), ("x", "y")), values, counts, top=_with_margin_tops(top)
    )
    sdc.protect(calm, Sdc(p_ratio=0.1))  # 200 is not under 10% of 500
    assert not calm.suppressed.any()


def test_the_rules_printed_name_the_p_percent_rule() -> None:
    printed = sdc.rules(Sdc(p_ratio=0.15))
    assert "15%" in printed["p_percent"] and "largest" in printed["p_percent"]
    assert "p% rule" in sdc.rules(Sdc())["p_percent"]


tables = st.integers(2, 6).flatmap(
    lambda r: st.integers(2, 5).flatmap(
        lambda c: st.lists(
            st.lists(
                st.one_of(st.integers(0, 12), st.integers(10, 80)),
                min_size=c,
                max_size=c,
            ),
            min_size=r,
            max_size=r,
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(tables)
def test_no_published_cell_is_under_the_threshold(table: list[list[int]]) -> None:
    cube = protect(table)
    shown = cube.values[~cube.suppressed]
    assert not ((shown > 0) & (shown < 10)).any()


@settings(max_examples=60, deadline=None)
@given(tables)
def test_no_suppressed_cell_is_recoverable_from_margins(table: list[list[int]]) -> None:
    cube = protect(table)
    if not cube.suppressed.any():
        return
    assert len(sdc.determined_cells(cube.suppressed)[0]) == 0
    for lo, hi in bounds(cube):
        assert hi - lo > 1e-6


three_way = st.lists(st.integers(0, 30), min_size=18, max_size=18)


@settings(max_examples=30, deadline=None)
@given(three_way)
def test_three_way_tables_with_all_margins(cells: list[int]) -> None:
    a = sdc.with_margins(np.array(cells, dtype=float).reshape(3, 3, 2))
    cube = sdc.Cube(
        ("a", "b", "c"), (("0", "1", "2"), ("0", "1", "2"), ("0", "1")), a, a.copy()
    )
    sdc.protect(cube, Sdc())
    shown = cube.values[~cube.suppressed]
    assert not ((shown > 0) & (shown < 10)).any()
    assert len(sdc.determined_cells(cube.suppressed)[0]) == 0


def test_linked_tables_suppress_a_shared_margin_in_both() -> None:
    from pupilshare.plan import TableSpec
    from pupilshare.release import aggregate

    by_la = TableSpec("by_la", "ncmp", ("year", "la"), ("cat",))
    by_sex = TableSpec("by_sex", "ncmp", ("year", "sex"), ("cat",))
    # Year 2020's margin (year x cat) is shared; suppress it in the first table.
    a = sdc.with_margins(np.array([[[50.0, 60.0], [70.0, 80.0]]]))
    b = sdc.with_margins(np.array([[[100.0, 60.0], [20.0, 80.0]]]))
    ca = sdc.Cube(
        ("year", "la", "cat"), (("2020",), ("201", "202"), ("Y", "N")), a, a.copy()
    )
    cb = sdc.Cube(
        ("year", "sex", "cat"), (("2020",), ("F", "M"), ("Y", "N")), b, b.copy()
    )
    ca.status[0, 2, 0] = sdc.PRIMARY  # 2020, all LAs, Y
    sdc.secondary(ca)
    added = aggregate.harmonise([by_la, by_sex], [ca, cb])
    assert added >= 1
    assert cb.suppressed[0, 2, 0]  # the same cell, in the other table
    assert len(sdc.determined_cells(cb.suppressed)[0]) == 0


def test_a_group_all_in_one_category_is_not_shown() -> None:
    """| group | reached | not reached | -> a group of 30, all reached: suppressed."""
    a = sdc.with_margins(np.array([[30.0, 0.0], [40.0, 25.0], [50.0, 35.0]]))
    cube = sdc.Cube(
        ("group", "reached"),
        (("a", "b", "c"), ("Y", "N")),
        a,
        a.copy(),
        attribute_axes=(1,),
    )
    sdc.protect(cube, Sdc())
    assert cube.status[0, 0] == sdc.GROUP and cube.status[0, 1] == sdc.GROUP
    assert not cube.suppressed[2].any()  # a mixed group not needed as complement
    assert len(sdc.determined_cells(cube.suppressed)[0]) == 0


def test_rounding_publishes_multiples_of_the_base() -> None:
    cube = protect([[12, 40, 53], [31, 44, 57], [30, 47, 51]], rounding=5)
    out = sdc.to_arrow(cube, Sdc(rounding=5), integer=True)
    shown = [v for v in out.column("value").to_pylist() if v is not None]
    assert shown and all(v % 5 == 0 for v in shown)


records = st.lists(
    st.tuples(
        st.sampled_from(["201", "202", "203", "204"]),
        st.sampled_from(["M", "F"]),
        st.sampled_from(["Y", "N"]),
    ),
    min_size=1,
    max_size=400,
)


@settings(max_examples=25, deadline=None)
@given(records, st.integers(3, 12))
def test_no_table_built_from_records_shows_a_small_cell(rows: list, k: int) -> None:
    """End to end from records in DuckDB through the cube to the published table."""
    import pyarrow as pa

    from pupilshare.plan import TableSpec
    from pupilshare.release import aggregate
    from pupilshare.store import Store

    store = Store()
    store.register(
        "recs",
        pa.table(
            {
                "la_code": [r[0] for r in rows],
                "sex": [r[1] for r in rows],
                "reached_expected": [r[2] for r in rows],
                "__pupil_key": list(range(len(rows))),
            }
        ),
    )
    spec = TableSpec("t", "ks_results", ("la_code", "sex"), ("reached_expected",))
    cube = aggregate.build_table(store, spec, "recs", Sdc(threshold=k))
    out = aggregate.table_arrow(spec, cube, Sdc(threshold=k))
    shown = [v for v in out.column("value").to_pylist() if v is not None]
    assert not [v for v in shown if 0 < v < k]
    assert len(sdc.determined_cells(cube.suppressed)[0]) == 0
