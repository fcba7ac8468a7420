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

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

ROUNDS = 12  # LP pairs aimed at the open cells (stop after two idle rounds)


def line_equations(
    v: np.ndarray, m: np.ndarray
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray | None]:
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
    a = sparse.csr_matrix(
        (np.concatenate(eq_coef), (np.concatenate(eq_rows), cols)),
        shape=(base, len(cells)),
    )
    keep = np.unique(a.nonzero()[0])
    x0 = v[m]
    return a[keep], np.concatenate(rhs)[keep], None if np.isnan(x0).any() else x0


@dataclass
class Need:
    """What each suppressed cell must keep: a feasible interval at least ``width``
    wide, reaching at least ``up`` above and ``down`` below the true value."""

    width: np.ndarray
    up: np.ndarray
    down: np.ndarray

    @classmethod
    def uniform(cls, n: int, width: float) -> Need:
        return cls(np.full(n, width), np.zeros(n), np.zeros(n))

    def met(self, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        tol = 1e-9
        return (
            (hi - lo >= self.width - tol)
            & (hi - x >= self.up - tol)
            & (x - lo >= self.down - tol)
        )

    def moves(self, rise: np.ndarray, fall: np.ndarray) -> np.ndarray:
        """Met by moves known exactly (``witnessed``: the true values along a
        direction the equations leave free, capped by a true value), compared as
        moves, not as end points (no rounding of ``x + rise`` for a large ``x``)."""
        tol = 1e-9
        return (
            (rise + fall >= self.width - tol)
            & (rise >= self.up - tol)
            & (fall >= self.down - tol)
        )

    def part(self, index: np.ndarray) -> Need:
        return Need(self.width[index], self.up[index], self.down[index])


def witnessed(
    a: sparse.spmatrix, x0: np.ndarray, corners: np.ndarray, signs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How far each cell can surely rise and fall, from offered directions.

    ``corners`` (k, c) are columns of ``a`` (-1: a cell not suppressed) and ``signs``
    how each moves. A direction counts only if this audit's own equations leave it
    free (``a @ d == 0``) and every cell it moves is suppressed; then the true
    values moved along it stay feasible until a falling cell reaches 0, so each of
    its cells can move that far (whatever the builder claimed). Returns the rise and
    fall each cell is certified for (0 where nothing is).
    """
    n = a.shape[1]
    rise_all, fall_all = np.zeros(n), np.zeros(n)
    if len(corners) == 0:
        return rise_all, fall_all
    whole = (corners >= 0).all(axis=1)
    corners, signs = corners[whole], signs[whole].astype(float)
    k, c = corners.shape
    cols = np.repeat(np.arange(k), c)
    d = sparse.csc_matrix((signs.ravel(), (corners.ravel(), cols)), shape=(n, k))
    moved = sparse.csc_matrix(a) @ d
    free = np.diff(sparse.csc_matrix(abs(moved) > 1e-9).indptr) == 0
    corners, signs = corners[free], signs[free]
    v = x0[corners]
    up_cap = np.where(signs < 0, v, np.inf).min(axis=1)  # t > 0 lowers these
    down_cap = np.where(signs > 0, v, np.inf).min(axis=1)
    rise = np.where(signs > 0, up_cap[:, None], down_cap[:, None])
    fall = np.where(signs > 0, down_cap[:, None], up_cap[:, None])
    np.maximum.at(rise_all, corners.ravel(), rise.ravel())
    np.maximum.at(fall_all, corners.ravel(), fall.ravel())
    return rise_all, fall_all


def search(
    v: np.ndarray, m: np.ndarray, cells: np.ndarray | None = None, k: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Directions among the suppressed cells themselves, found by this audit: for a
    cell, one other suppressed index on every axis (of the ``k`` largest suppressed
    cells of its line there) whose ``2**d`` crossings are all suppressed. Returns
    them as (corners, signs) over the columns of ``line_equations(v, m)`` (corner 0
    the cell), for ``witnessed`` to verify and measure. ``cells``: flat indices to
    search for (default every suppressed cell).
    """
    shape, d = m.shape, m.ndim
    column = np.full(m.size, -1, np.int64)
    column[np.flatnonzero(m)] = np.arange(int(m.sum()))
    todo = np.flatnonzero(m) if cells is None else np.asarray(cells, np.int64)
    if len(todo) == 0:
        return np.zeros((0, 2**d), np.int64), np.zeros((0, 2**d), np.int8)
    p = np.stack(np.unravel_index(todo, shape), axis=1)
    strides = np.array([int(np.prod(shape[j + 1 :])) for j in range(d)], np.int64)
    cands = []
    for j in range(d):
        mv = np.moveaxis(m, j, -1).reshape(-1, shape[j])
        vv = np.moveaxis(np.nan_to_num(v), j, -1).reshape(-1, shape[j])
        score = np.where(mv, -vv, np.inf)
        top = min(k + 1, shape[j])
        pool = np.argsort(score, axis=1, kind="stable")[:, :top]
        ok = np.take_along_axis(np.isfinite(score), pool, axis=1)
        pool = np.where(ok, pool, -1)
        other = [c for i, c in enumerate(p.T) if i != j]
        other_shape = [n for i, n in enumerate(shape) if i != j]
        line = (
            np.ravel_multi_index(other, other_shape)
            if other
            else np.zeros(len(p), np.int64)
        )
        mine = pool[line]
        mine = np.where(mine == p[:, j][:, None], -1, mine)
        order = np.argsort(mine < 0, axis=1, kind="stable")
        cands.append(np.take_along_axis(mine, order, axis=1)[:, :k])
    grids = np.meshgrid(*[np.arange(c.shape[1]) for c in cands], indexing="ij")
    alt = np.stack(
        [c[:, g.ravel()] for c, g in zip(cands, grids, strict=True)], axis=-1
    )  # (n, combos, d)
    bits = (np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1
    valid_alt = (alt >= 0).all(axis=-1)
    alt = np.where(alt < 0, p[:, None, :], alt)
    flat = todo[:, None, None] + ((alt - p[:, None, :]) * strides) @ bits.T
    cat_p = p != np.array(shape) - 1
    cat_a = alt != np.array(shape) - 1
    flips = (cat_p[:, None, :] & cat_a).astype(np.int64)
    signs = (1 - 2 * ((flips @ bits.T) & 1)).astype(np.int8)
    cols = column[flat]
    whole = valid_alt & (cols >= 0).all(axis=-1)
    return cols[whole], signs[whole]


def audit(
    a: sparse.spmatrix,
    b: np.ndarray,
    x0: np.ndarray | None,
    width: float | Need,
    rise: np.ndarray | None = None,
    fall: np.ndarray | None = None,
) -> np.ndarray:
    """Which cells of ``a @ x = b, x >= 0`` lack their protection (``width``: the
    least feasible interval of every cell, or a ``Need`` per cell). ``x0``, when
    given, is a feasible point (the true values); ``rise``/``fall``, how far each
    cell is already certified to move from it (``witnessed``): cells they satisfy
    need no LP, and groups holding only such cells are not solved at all. A group
    whose equations have no solution is reported whole: the check cannot vouch."""
    a = sparse.csc_matrix(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n = a.shape[1]
    need = width if isinstance(width, Need) else Need.uniform(n, width)
    known = np.abs(x0) if x0 is not None else np.zeros(0)
    if x0 is not None and rise is not None and fall is not None:
        # Exact: no solver tolerance in a verified direction (see ``_narrow``).
        done = need.moves(rise, fall)
        if done.all():
            return np.zeros(n, bool)
    else:
        done = np.zeros(n, bool)
    pinned, b = _peel(a, b, x0)
    free = np.flatnonzero(~pinned)
    if len(free) == 0:
        return pinned
    sub = sparse.csr_matrix(a[:, free])
    rows = np.flatnonzero(np.diff(sub.indptr))
    sub, b = sub[rows], b[rows]
    group = _groups(sub)
    # A bound that keeps every LP finite and that no true value nears: wide enough
    # for every cell of a group to be 1 or more at once (a total may sum them all).
    cap = (1e3 + a.shape[1]) * (1.0 + np.abs(b).sum() + known.sum())
    todo = np.unique(group[~done[free]])
    for g in todo:
        members = np.flatnonzero(group == g)
        part = sub[:, members]
        used = np.flatnonzero(np.diff(part.indptr))
        cells = free[members]
        start = x0[cells] if x0 is not None else None
        seed = None
        if start is not None and rise is not None and fall is not None:
            seed = (start - fall[cells], start + rise[cells])
        pinned[cells] = _narrow(
            part[used], b[used], start, need.part(cells), cap, seed, done[cells]
        )
    return pinned


def _groups(a: sparse.csr_matrix) -> np.ndarray:
    """Connected groups of cells (sharing an equation), through the bipartite graph
    of cells and equations: linear in its size, where the cells' own graph would
    square every long line."""
    m, n = a.shape
    link = sparse.csr_matrix(abs(a) > 0, dtype=np.int8)
    graph = sparse.bmat([[None, link.T], [link, None]], format="csr")
    _, label = connected_components(graph, directed=False)
    return label[:n]


def _peel(
    a: sparse.csc_matrix, b: np.ndarray, x0: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
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


def _spread_point(a: sparse.csr_matrix, b: np.ndarray, cap: float) -> np.ndarray | None:
    """A feasible point with as many cells at 1 or more as can be (one LP: maximise
    the sum of ``s`` with ``s <= x``, ``s <= 1``). Vertices sit at 0 in many cells;
    this point does not, so with two vertices it already spreads most cells."""
    n = a.shape[1]
    a_eq = sparse.hstack([a, sparse.csr_matrix((a.shape[0], n))], format="csr")
    a_ub = sparse.hstack([-sparse.identity(n), sparse.identity(n)], format="csr")
    r = linprog(
        np.concatenate([np.zeros(n), -np.ones(n)]),
        A_ub=a_ub,
        b_ub=np.zeros(n),
        A_eq=a_eq,
        b_eq=b,
        bounds=[(0, cap)] * n + [(0, 1)] * n,
        method="highs",
    )
    return r.x[:n] if r.status == 0 else None


def _narrow(
    a: sparse.csr_matrix,
    b: np.ndarray,
    x0: np.ndarray | None,
    need: Need,
    cap: float,
    seed: tuple[np.ndarray, np.ndarray] | None = None,
    done: np.ndarray | None = None,
) -> np.ndarray:
    """Cells of one linked group whose exact feasible interval misses ``need``.

    ``done``: cells already certified exactly (``Need.moves``), never reopened.
    Every other cell must clear its width plus a margin for the solver's own
    tolerance (a millionth of the largest figure in *this* group's equations), so
    rounding in a returned point never reads as room. The margin is the group's,
    not the table's: a national total elsewhere must not lift every cell's need
    (it once did, sending every cell of a 10 M-pupil table to the solver)."""
    n = a.shape[1]
    done = np.zeros(n, bool) if done is None else done
    scale = max(
        float(np.abs(b).max(initial=0.0)),
        float(np.abs(x0).max(initial=0.0)) if x0 is not None else 0.0,
    )
    need = Need(np.maximum(need.width, 1e-6 * scale), need.up, need.down)
    truth = x0
    if x0 is None:
        x0 = _spread_point(a, b, cap)
        if x0 is None:
            return np.ones(n, bool)  # no solution: the published sums do not add up
        need = Need(need.width, np.zeros(n), np.zeros(n))  # no truth: width only
    lo, hi = (seed[0].copy(), seed[1].copy()) if seed else (x0.copy(), x0.copy())
    centre = truth if truth is not None else x0

    def short() -> np.ndarray:
        return ~need.met(centre, lo, hi) & ~done

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
        open_ = short()
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
        stale = stale + 1 if short().sum() == open_.sum() else 0
        if stale == 2:
            break
    proven = np.zeros(n, bool)
    if truth is not None and n > LOCAL and short().any():
        proven = _outer_short(a, b, truth, need, cap, lo, hi, short())
    for j in np.flatnonzero(short() & ~proven):
        for sign in (1.0, -1.0):
            c = np.zeros(n)
            c[j] = sign
            extreme(c)
    return short()


LOCAL = 200  # a linked group with more cells proves its short cells locally first
HUB = 64  # an equation with more unknowns (a national total) does not spread
RADIUS = 2  # how far (cell, equation, cell) the neighbourhood of a cell reaches


def _outer_short(
    a: sparse.csr_matrix,
    b: np.ndarray,
    x0: np.ndarray,
    need: Need,
    cap: float,
    lo: np.ndarray,
    hi: np.ndarray,
    open_: np.ndarray,
) -> np.ndarray:
    """Which ``open_`` cells of a large linked group are surely short, by LPs over
    their neighbourhood alone: only the equations that touch it, every cell in them
    free. That system has every solution of the whole group and more, so a cell
    whose interval is short in it is short in the whole group; a cell it does not
    prove short is left to the exact LPs over the whole group. A refusal (the
    builder's every round until the table is protected) costs LPs the size of a
    neighbourhood for each short cell, not the size of a national table."""
    at = sparse.csc_matrix(a)
    thin = np.diff(a.indptr) <= HUB
    reach = open_.copy()
    for _ in range(RADIUS):
        rows = np.zeros(a.shape[0], bool)
        rows[at[:, reach].indices] = True
        more = np.zeros(len(reach), bool)
        more[a[rows & thin].indices] = True
        reach |= more
    rows = np.flatnonzero(np.diff(sparse.csr_matrix(at[:, reach]).indptr))
    part = a[rows]
    cols = np.zeros(len(reach), bool)
    cols[part.indices] = True
    if 2 * int(cols.sum()) > len(cols):
        return np.zeros(len(cols), bool)  # no smaller than the group itself
    at_cols = np.flatnonzero(cols)
    found = _narrow(
        part[:, at_cols],
        b[rows],
        x0[at_cols],
        need.part(at_cols),
        cap,
        (lo[at_cols], hi[at_cols]),
        ~open_[at_cols],
    )
    out = np.zeros(len(cols), bool)
    out[at_cols[found]] = True
    return out & open_
