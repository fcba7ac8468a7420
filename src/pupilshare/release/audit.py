"""The interval audit of a table's suppression pattern, for the output check.

What an intruder can learn about a suppressed cell from a published additive table
is its *feasible interval*: the least and greatest value it can take while every row,
column and total still adds up and no cell is negative. A suppressed cell whose
interval is narrower than a protection width (1 for counts: the cell is pinned to
one whole number) is recoverable. This is the audit tau-argus and sdcMicro run, done
exactly:

1. peeling: a line with one unknown cell gives it away, and a line of unknowns of
   one sign adding to 0 gives them all away (0); their values move to the right-hand
   side and the peeling repeats (the differencing an intruder does by hand);
2. the rest, one connected group of cells at a time, by linear programming (HiGHS,
   sparse). Every feasible point the solver returns widens each cell's known range,
   so a cell is *certified safe* as soon as two points differ in it by the width. A
   point away from the vertices (the true values when known, else one LP that lifts
   as many cells as it can to 1 or more) and a pair of LPs with a random objective
   certify almost every cell of a real table at once; then LPs aimed at the cells
   still open, and last one LP for each end of each cell still open, which gives its
   exact interval.

A national table (150 LAs by sex by ethnic group, 1,340 suppressed cells linked in
one group) is audited in a few hundredths of a second (``bench/release.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

ROUNDS = 12  # LP pairs aimed at the open cells (stop after two idle rounds)


def line_equations(v: np.ndarray, m: np.ndarray) -> tuple[
    sparse.csr_matrix, np.ndarray, np.ndarray | None
]:  # fmt: skip
    """``a @ x = b`` over the suppressed cells ``x`` (mask ``m``) of a table ``v``
    whose last index on each axis is the total: one equation per line (all axes but
    one fixed) that holds a suppressed cell, its total counted -1 and every
    published cell moved to ``b``. Also the suppressed cells' values when ``v`` holds
    them all (a feasible point), else None."""
    cells = np.flatnonzero(m)
    where = np.unravel_index(cells, m.shape)
    published = np.where(m, 0.0, np.nan_to_num(v))
    eq_rows, eq_coef, rhs = [], [], []
    base = 0
    for axis, n in enumerate(m.shape):
        moved = np.moveaxis(published, axis, -1)
        interior = moved[..., :-1].sum(axis=-1) - moved[..., -1]
        other = [w for j, w in enumerate(where) if j != axis]
        other_shape = [s for j, s in enumerate(m.shape) if j != axis]
        line = np.ravel_multi_index(other, other_shape) if other else cells * 0
        eq_rows.append(base + line)
        eq_coef.append(np.where(where[axis] == n - 1, -1.0, 1.0))
        rhs.append(-interior.ravel())
        base += int(np.prod(other_shape)) if other_shape else 1
    cols = np.tile(np.arange(len(cells)), m.ndim)
    a = sparse.csr_matrix((np.concatenate(eq_coef), (np.concatenate(eq_rows), cols)),
                          shape=(base, len(cells)))  # fmt: skip
    keep = np.unique(a.nonzero()[0])
    x0 = v[m]
    return a[keep], np.concatenate(rhs)[keep], None if np.isnan(x0).any() else x0


def audit(a: sparse.spmatrix, b: np.ndarray, x0: np.ndarray | None,
          width: float) -> np.ndarray:  # fmt: skip
    """Which cells of ``a @ x = b, x >= 0`` have a feasible interval narrower than
    ``width`` (recoverable). ``x0``, when given, is a feasible point (the true
    values). A group whose equations have no solution is reported whole: the check
    cannot vouch for it."""
    a = sparse.csc_matrix(a, dtype=float)
    b = np.asarray(b, dtype=float)
    known = np.abs(x0) if x0 is not None else np.zeros(0)
    scale = max(float(np.abs(b).max(initial=0.0)), float(known.max(initial=0.0)))
    width = max(width, 1e-6 * scale)  # the LP's own tolerance must never read as room
    pinned, b = _peel(a, b, x0)
    free = np.flatnonzero(~pinned)
    if len(free) == 0:
        return pinned
    sub = sparse.csr_matrix(a[:, free])
    rows = np.flatnonzero(np.diff(sub.indptr))
    sub, b = sub[rows], b[rows]
    n_groups, group = connected_components(
        sparse.csr_matrix(abs(sub).T @ abs(sub)), directed=False
    )
    # A bound that keeps every LP finite and that no true value nears: wide enough
    # for every cell of a group to be 1 or more at once (a total may sum them all).
    cap = (1e3 + a.shape[1]) * (1.0 + np.abs(b).sum() + known.sum())
    for g in range(n_groups):
        members = np.flatnonzero(group == g)
        part = sub[:, members]
        used = np.flatnonzero(np.diff(part.indptr))
        start = x0[free[members]] if x0 is not None else None
        pinned[free[members]] = _narrow(part[used], b[used], start, width, cap)
    return pinned


def _peel(a: sparse.csc_matrix, b: np.ndarray,
          x0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Cells given away by single lines, repeated to a fixed point; returns them and
    the right-hand side with their values moved over."""
    n = a.shape[1]
    pinned = np.zeros(n, bool)
    b = b.copy()
    while True:
        free = np.flatnonzero(~pinned)
        live = sparse.csr_matrix(a[:, free])
        count = np.diff(live.indptr)
        pos = np.asarray((live > 0).sum(axis=1)).ravel()
        one_sign = (count > 0) & ((pos == 0) | (pos == count))
        zero = one_sign & (np.abs(b) <= 1e-9 * (1 + np.abs(b).max(initial=0)))
        single = count == 1
        value = np.zeros(n)
        hit = np.zeros(n, bool)
        at = live.indptr[:-1][single]
        hit[free[live.indices[at]]] = True
        value[free[live.indices[at]]] = b[single] / live.data[at]
        zrows = live[zero]
        hit[free[zrows.indices]] = True
        value[free[zrows.indices]] = 0.0
        if not hit.any():
            return pinned, b
        if x0 is not None:
            value = np.where(hit, x0, 0.0)
        b -= a[:, hit] @ value[hit]
        pinned |= hit


def _spread_point(a: sparse.csr_matrix, b: np.ndarray,
                  cap: float) -> np.ndarray | None:  # fmt: skip
    """A feasible point with as many cells at 1 or more as can be (one LP: maximise
    the sum of ``s`` with ``s <= x``, ``s <= 1``). Vertices sit at 0 in many cells;
    this point does not, so with two vertices it already spreads most cells."""
    n = a.shape[1]
    a_eq = sparse.hstack([a, sparse.csr_matrix((a.shape[0], n))], format="csr")
    a_ub = sparse.hstack([-sparse.identity(n), sparse.identity(n)], format="csr")
    r = linprog(np.concatenate([np.zeros(n), -np.ones(n)]), A_ub=a_ub,
                b_ub=np.zeros(n), A_eq=a_eq, b_eq=b,
                bounds=[(0, cap)] * n + [(0, 1)] * n, method="highs")  # fmt: skip
    return r.x[:n] if r.status == 0 else None


def _narrow(a: sparse.csr_matrix, b: np.ndarray, x0: np.ndarray | None,
            width: float, cap: float) -> np.ndarray:  # fmt: skip
    """Cells of one linked group whose exact feasible interval is under ``width``."""
    n = a.shape[1]
    if x0 is None:
        x0 = _spread_point(a, b, cap)
        if x0 is None:
            return np.ones(n, bool)  # no solution: the published sums do not add up
    lo, hi = x0.copy(), x0.copy()
    rng = np.random.default_rng(0)

    def extreme(c: np.ndarray) -> bool:
        r = linprog(c, A_eq=a, b_eq=b, bounds=(0, cap), method="highs")
        if r.status != 0:
            return False
        np.minimum(lo, r.x, out=lo)
        np.maximum(hi, r.x, out=hi)
        return True

    c = rng.standard_normal(n)
    if not (extreme(c) and extreme(-c)):
        return np.ones(n, bool)  # no solution: the published sums do not add up
    stale = 0
    for turn in range(ROUNDS):
        open_ = hi - lo < width
        if not open_.any():
            return open_
        # Push every open cell up together, then down together (one LP each lifts
        # or sinks most of them), and a random mix for cells that trade off.
        if turn % 2 == 0:
            c = np.where(open_, -1.0, 0.0)
        else:
            c = np.where(open_, rng.choice([-1.0, 1.0], n), 0.0)
        extreme(c)
        extreme(-c)
        stale = stale + 1 if (hi - lo < width).sum() == open_.sum() else 0
        if stale == 2:
            break
    for j in np.flatnonzero(hi - lo < width):
        for sign in (1.0, -1.0):
            if hi[j] - lo[j] < width:
                c = np.zeros(n)
                c[j] = sign
                extreme(c)
    return hi - lo < width
