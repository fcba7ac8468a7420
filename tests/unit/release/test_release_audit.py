"""The interval audit (``release/audit.py``) against the plain definition: two LPs
per suppressed cell, its least and greatest value given the table's equations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pupilshare.release import audit, sdc


def _exact_widths(v: np.ndarray, m: np.ndarray) -> np.ndarray:
    a, b, _ = audit.line_equations(np.where(m, np.nan, v), m)
    a = a.toarray()
    widths = []
    for j in range(a.shape[1]):
        c = np.zeros(a.shape[1])
        c[j] = 1
        lo = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        widths.append(np.inf if hi.status == 3 else -hi.fun - lo.fun)
    return np.array(widths)


def _audit(v: np.ndarray, m: np.ndarray, known: bool) -> np.ndarray:
    a, b, x0 = audit.line_equations(v if known else np.where(m, np.nan, v), m)
    return audit.audit(a, b, x0, 1.0)


def test_a_cell_alone_in_its_line_is_given_away() -> None:
    v = sdc.with_margins(np.array([[5.0, 20.0], [30.0, 40.0]]))
    m = np.zeros(v.shape, bool)
    m[0, 0] = True
    assert _audit(v, m, known=False).tolist() == [True]


def test_four_corners_of_large_cells_are_safe() -> None:
    v = sdc.with_margins(np.array([[5.0, 20.0], [30.0, 40.0]]))
    m = np.zeros(v.shape, bool)
    m[:2, :2] = True
    assert not _audit(v, m, known=False).any()


def test_a_line_adding_to_zero_gives_its_cells_away_and_then_the_rest() -> None:
    """| 0 0 | hidden in a row whose total is 0: both are 0 (no cell is negative),
    and then each column gives away the cell below."""
    v = sdc.with_margins(np.array([[0.0, 0.0], [30.0, 40.0]]))
    m = np.zeros(v.shape, bool)
    m[:2, :2] = True
    assert _audit(v, m, known=False).all()


cells = st.integers(2, 5).flatmap(
    lambda r: st.integers(2, 4).flatmap(
        lambda c: st.tuples(
            st.lists(
                st.lists(
                    st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 60)),
                    min_size=c,
                    max_size=c,
                ),
                min_size=r,
                max_size=r,
            ),
            st.lists(
                st.booleans(), min_size=(r + 1) * (c + 1), max_size=(r + 1) * (c + 1)
            ),
        )
    )
)


@settings(max_examples=80, deadline=None)
@given(cells, st.booleans())
def test_the_audit_agrees_with_two_lps_per_cell(case: tuple, known: bool) -> None:
    table, hidden = case
    v = sdc.with_margins(np.array(table, dtype=float))
    m = np.array(hidden).reshape(v.shape)
    if not m.any():
        return
    assert (_audit(v, m, known) == (_exact_widths(v, m) < 1.0)).all()


def test_a_wholly_suppressed_large_table_is_audited_in_a_few_lps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every cell and total suppressed: the equations are homogeneous, so the grand
    total must hold every cell at once. With a bound on each cell below that sum, the
    spread point left cells at 0 and each got LPs of its own (a demo table of 2,940
    such cells took 90 s); the bound now grows with the group."""
    v = np.ones((41, 41))
    m = np.ones((41, 41), bool)
    calls = []
    real = audit.linprog
    monkeypatch.setattr(
        audit, "linprog", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    a, b, x0 = audit.line_equations(np.where(m, np.nan, v), m)
    assert not audit.audit(a, b, x0, 1.0).any()
    assert len(calls) < 40


def test_cells_the_directions_certify_never_go_to_the_solver(monkeypatch) -> None:
    """A suppressed national total of millions once raised every cell's need by the
    solver's tolerance margin (a millionth of the largest figure in the table), so
    cells a verified hypercube gave exactly their interval of 5 went to the LP over
    the whole linked table: minutes at 4 M pupils. Moves along verified directions
    are exact; no LP is needed, and none may run."""
    v = sdc.with_margins(np.array([[3.0, 2.0], [4.0, 9_000_000.0]]))
    m = np.zeros(v.shape, bool)
    m[:2, :2] = True  # four corners, the largest a figure of millions
    a, b, x0 = audit.line_equations(v, m)
    corners = np.arange(4)[None, :]  # columns: (0,0), (0,1), (1,0), (1,1)
    rise, fall = audit.witnessed(a, x0, corners, np.array([[1, -1, -1, 1]]))
    assert rise[0] == 2.0 and fall[0] == 3.0  # an interval of exactly 5

    def no_solver(*args: object, **kwargs: object) -> None:
        raise AssertionError("an LP ran for a certified cell")

    monkeypatch.setattr(audit, "linprog", no_solver)
    need = audit.Need(np.full(4, 5.0), np.ones(4), np.ones(4))
    assert not audit.audit(a, b, x0, need, rise, fall).any()
    # The same cells asking more than the direction gives still go to the solver.
    with pytest.raises(AssertionError, match="an LP ran"):
        audit.audit(a, b, x0, audit.Need.uniform(4, 6.0), rise, fall)


big_cells = st.integers(4, 7).flatmap(
    lambda r: st.integers(3, 6).flatmap(
        lambda c: st.tuples(
            st.lists(
                st.lists(
                    st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 40)),
                    min_size=c,
                    max_size=c,
                ),
                min_size=r,
                max_size=r,
            ),
            st.lists(
                st.booleans(), min_size=(r + 1) * (c + 1), max_size=(r + 1) * (c + 1)
            ),
            st.sampled_from([1.0, 3.0, 6.0]),
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(big_cells)
def test_short_cells_proven_on_their_neighbourhood_are_the_exact_ones(
    case: tuple,
) -> None:
    """Every group counts as large and every total as a hub, so every short cell
    the first LPs leave goes through the neighbourhood bound first; the answer is
    still the exact one (two LPs per cell over the whole table)."""
    table, hidden, width = case
    v = sdc.with_margins(np.array(table, dtype=float))
    m = np.array(hidden).reshape(v.shape)
    if not m.any():
        return
    a, b, x0 = audit.line_equations(v, m)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "LOCAL", 0)
        patch.setattr(audit, "HUB", 2)
        short = audit.audit(a, b, x0, width)
    assert (short == (_exact_widths(v, m) < width)).all()


def test_a_large_groups_short_cells_take_no_lp_each_over_the_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A national table's refusal: 40 small four-cell squares that each leave their
    cells an interval of 2, where 10 is needed, in one group of thousands of
    suppressed cells joined through the totals. Each is proven short on its own
    neighbourhood; no cell gets LPs of its own over the whole group (it took 320)."""
    rng = np.random.default_rng(3)
    v = sdc.with_margins(rng.integers(20, 60, size=(240, 40)).astype(float))
    m = np.zeros(v.shape, bool)
    m[:-1, :-1] = rng.random((240, 40)) < 0.3
    m[-1, :-1] = True  # every column total hidden: one group through them
    for k in range(40):
        r = 3 * k
        v[r : r + 2, 0:2] = [[1.0, 1.0], [1.0, 1.0]]
        m[r : r + 2] = False  # each of its rows: two unknowns adding to 2
        m[r : r + 2, 0:2] = True
    v[:-1, -1] = v[:-1, :-1].sum(axis=1)
    v[-1] = v[:-1].sum(axis=0)
    a, b, x0 = audit.line_equations(v, m)
    sizes: list[int] = []
    real = audit.linprog
    monkeypatch.setattr(
        audit,
        "linprog",
        lambda c, *p, **k: sizes.append(len(c)) or real(c, *p, **k),
    )
    short = audit.audit(a, b, x0, 10.0)
    assert short.sum() >= 160
    group = np.bincount(audit._groups(a)).max()
    assert group > 2000  # one group of thousands
    whole = sum(1 for s in sizes if s > group // 2)
    assert whole < 2 * audit.ROUNDS + 4  # not two for each of its 160 short cells
