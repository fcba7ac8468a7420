"""Statistical disclosure control of aggregate tables, in NumPy over the whole table.

A table is held as a cube with margins: axis j has its categories then a last index
for the total, so every line (fix all axes but one) satisfies sum(cells) == total.
Rules, in the order an output checker (ACRO, tau-argus) would apply them:

1. primary suppression: a cell from 1 to ``threshold - 1`` contributors is ``c``;
   a sum is also sensitive under either magnitude rule (both as ACRO and tau-argus
   define them), with the contributions per pupil worked out in SQL for every cell
   and margin (``aggregate.cells_sql``):

   - (n, k) dominance: the ``n`` largest contributions make ``k`` or more of it;
   - p% rule: the total minus the two largest contributions is less than ``p`` of
     the largest, so the second largest contributor could estimate the largest to
     within p% (with one or two contributors the remainder is 0: always sensitive);

   a count line of an attribute (the table's columns) with its whole total in one
   category is suppressed whole (group disclosure: a revealing zero);
2. secondary suppression: no line may hold exactly one suppressed cell; the cheapest
   (smallest non-zero) complement in such a line is suppressed, over every line of every
   axis including the margins' own lines, repeated to a fixed point; then an exact check
   (the null space of the suppressed cells' line equations) finds any cell still fixed
   by the equations, and suppresses a complement in one of its lines, until none is;
3. optional rounding of published values to a base (``low``: rounds to 0, not 0).

True zeros are published (a zero count of an observed category is not suppressed);
suppressed cells are shown as ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.linalg import eigh
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu
from threadpoolctl import threadpool_limits

from pupilshare.plan import Sdc

PUBLISHED, PRIMARY, DOMINANCE, SECONDARY, GROUP, P_PERCENT = 0, 1, 2, 3, 4, 5
SYMBOLS = {
    "c": "confidential: suppressed to protect confidentiality",
    "low": "rounds to 0, but is not 0",
    "x": "not available",
    "z": "not applicable",
}
TOTAL = "Total"
DENSE_MAX = 300  # linked suppressed cells solved densely; larger: sparse probes
PROBES = 6


@dataclass
class Cube:
    """An additive table with margins; see the module docstring for the layout."""

    dims: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    values: np.ndarray  # float64, shape (n_1 + 1, ..., n_d + 1)
    contributors: np.ndarray  # pupils (or records) behind each cell
    # (..., n) largest contributions of each cell and margin, largest first, for the
    # magnitude rules; n is at least 2 (the p% rule needs the two largest).
    top: np.ndarray | None = None
    status: np.ndarray = field(default=None)  # type: ignore[assignment]
    exact_checked: bool = True
    # Axes of attributes (the table's columns): a group all in one category is
    # a disclosure about every member (group disclosure).
    attribute_axes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.status is None:
            self.status = np.zeros(self.values.shape, dtype=np.uint8)

    @property
    def suppressed(self) -> np.ndarray:
        return self.status != PUBLISHED


def with_margins(a: np.ndarray) -> np.ndarray:
    """Append a total along every axis (margins of margins included)."""
    for axis in range(a.ndim):
        a = np.concatenate([a, a.sum(axis=axis, keepdims=True)], axis=axis)
    return a


def magnitude_rules(values: np.ndarray, top: np.ndarray, sdc: Sdc) -> tuple[
    np.ndarray, np.ndarray
]:  # fmt: skip
    """Sums failing (n, k) dominance, and sums failing the p% rule.

    ``top`` holds each cell's largest contributions, largest first (zeros where a
    cell has fewer contributors). Contributions are taken as non-negative, as the
    rules assume (heights, weights, scores).
    """
    positive = values > 0
    lead = top[..., : sdc.dominance_n].sum(axis=-1)
    dominated = positive & (lead >= sdc.dominance_k * values)
    first, second = top[..., 0], top[..., 1]
    p_fails = positive & (values - first - second < sdc.p_ratio * first)
    return dominated, p_fails


def primary(cube: Cube, sdc: Sdc) -> None:
    """Mark cells under the threshold, and sums failing a magnitude rule."""
    few = (cube.contributors > 0) & (cube.contributors < sdc.threshold)
    cube.status[few] = PRIMARY
    if cube.top is not None:
        dominated, p_fails = magnitude_rules(cube.values, cube.top, sdc)
        cube.status[p_fails & ~few] = P_PERCENT
        cube.status[dominated & ~few] = DOMINANCE
    if cube.top is None:
        _group_disclosure(cube)


def _group_disclosure(cube: Cube) -> None:
    """A count line whose whole total sits in one category tells every member's
    category (a zero that reveals everyone in a group has a property): its cells are
    suppressed, zeros included, so neither the zeros nor the full cell show it."""
    for axis in cube.attribute_axes:
        v = np.moveaxis(cube.values, axis, -1)
        inner = v[..., :-1]
        if inner.shape[-1] < 2:
            continue
        revealing = (v[..., -1] > 0) & ((inner > 0).sum(axis=-1) == 1)
        status = np.moveaxis(cube.status, axis, -1)  # a view: writes go through
        mark = np.zeros(status.shape, bool)
        mark[..., :-1] = revealing[..., None]
        status[mark & (status == PUBLISHED)] = GROUP


def known_zeros(values: np.ndarray) -> np.ndarray:
    """Cells a reader knows are zero: every cell of a line whose total is zero."""
    known = np.zeros(values.shape, bool)
    for axis in range(values.ndim):
        total = np.take(values, [values.shape[axis] - 1], axis=axis)
        known |= np.broadcast_to(total == 0, values.shape)
    return known


def _cost(cube: Cube, allow_known_zeros: bool = False) -> np.ndarray:
    """Cost of suppressing each cell: its value, non-zero cells before zeros. A cell
    known to be zero (its line sums to zero) protects nothing: never a complement."""
    v = np.abs(cube.values)
    big = float(v.max(initial=0.0)) + 1.0
    cost = np.where(v == 0, big * 2, v)
    if not allow_known_zeros:
        cost[known_zeros(cube.values)] = np.inf
    return np.where(cube.suppressed, np.inf, cost)


def _fix_lines(cube: Cube) -> bool:
    """Suppress the cheapest complement in every line with one suppressed cell."""
    changed = False
    while True:
        before = int(cube.suppressed.sum())
        for axis in range(cube.values.ndim):
            single = cube.suppressed.sum(axis=axis) == 1
            if not single.any():
                continue
            cost = _cost(cube)
            if not np.isfinite(np.min(cost, axis=axis))[single].all():
                cost = _cost(cube, allow_known_zeros=True)  # nothing better left
            pick = np.argmin(cost, axis=axis)
            single &= np.isfinite(np.min(cost, axis=axis))
            others = list(np.nonzero(single))
            index = others[:axis] + [pick[single]] + others[axis:]
            cube.status[tuple(index)] = SECONDARY
        if int(cube.suppressed.sum()) == before:
            return changed
        changed = True


def _sparse_system(mask: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Equations over the suppressed cells: one row per line holding any of them.

    Row ``i`` says sum(coef * x) over the suppressed cells of line ``i`` equals minus
    the published part of that line (interior cells +1, the line's total -1).
    """
    shape = mask.shape
    cells = np.flatnonzero(mask)
    coords = np.unravel_index(cells, shape)
    rows, coef = [], []
    offset = 0
    for axis, n in enumerate(shape):
        other_shape = tuple(s for j, s in enumerate(shape) if j != axis)
        other = tuple(c for j, c in enumerate(coords) if j != axis)
        line = np.ravel_multi_index(other, other_shape) if other else cells * 0
        rows.append(offset + line)
        coef.append(np.where(coords[axis] == n - 1, -1.0, 1.0))
        offset += int(np.prod(other_shape)) if other_shape else 1
    r, k = np.concatenate(rows), np.concatenate(coef)
    c = np.tile(np.arange(len(cells)), len(shape))
    used, r = np.unique(r, return_inverse=True)
    a = sparse.csr_matrix((k, (r, c)), shape=(len(used), len(cells)))
    return a, cells


def line_system(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense form of the suppressed cells' equations (for small tables and tests)."""
    a, cells = _sparse_system(mask)
    return a.toarray(), cells


def free_cells(a: sparse.spmatrix) -> np.ndarray:
    """Which variables of ``a @ x = b`` the equations leave free (not fixed).

    Small systems: the null space from ``eigh`` of the Gram matrix, exactly. Large
    ones: random vectors projected onto the null space (one sparse factorisation),
    and a cell counts as free only when a projected vector moves it by far more than
    the vector's own residual can explain, so any doubt reads as *fixed* (and gets
    another complement), never as safe.
    """
    a = sparse.csr_matrix(a)
    n = a.shape[1]
    if n <= DENSE_MAX:
        w, v = eigh((a.T @ a).toarray())
        null = v[:, w <= 1e-9 * max(float(w.max(initial=0.0)), 1.0)]
        if null.shape[1] == 0:
            return np.zeros(n, bool)
        return np.linalg.norm(null, axis=1) > 1e-6
    r = np.random.default_rng(0).standard_normal((n, PROBES))
    gram = (a @ a.T + 1e-10 * sparse.identity(a.shape[0])).tocsc()
    v = r - a.T @ splu(gram).solve(a @ r)
    residual = np.linalg.norm(a @ v, axis=0)  # one per probe
    bound = 10 * np.sqrt(a.shape[0]) * residual + 1e-7
    return (np.abs(v) > bound).any(axis=1)


def determined_cells(mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """Flat indices of suppressed cells the line equations fix exactly, and whether
    every group of linked cells could be checked.

    Suppressed cells sharing a line form components; each is solved on its own (a
    cell is fixed when no solution of its equations' null space moves it).
    """
    if not mask.any():
        return np.array([], dtype=np.int64), True
    a, cells = _sparse_system(mask)
    a = a.tocsc()
    n, label = connected_components((a.T @ a).tocsr(), directed=False)
    fixed: list[np.ndarray] = []
    for comp in range(n):
        members = np.flatnonzero(label == comp)
        sub = a[:, members]
        sub = sub[np.unique(sub.nonzero()[0])]
        fixed.append(cells[members[~free_cells(sub)]])
    out = np.concatenate(fixed) if fixed else np.array([], dtype=np.int64)
    return out, True


def secondary(cube: Cube) -> None:
    """Secondary suppression to a fixed point of the line rule and the exact check."""
    _fix_lines(cube)
    for _ in range(10_000):
        fixed, complete = determined_cells(cube.suppressed)
        cube.exact_checked = complete
        if len(fixed) == 0:
            return
        cost = _cost(cube)
        progress = False
        for flat in fixed:
            target = _cheapest_in_lines(cost, np.unravel_index(flat, cost.shape))
            if target is not None:
                cube.status[target] = SECONDARY
                cost[target] = np.inf
                progress = True
        if not progress:  # nothing left to pair with: withhold the whole table
            cube.status[cube.status == PUBLISHED] = SECONDARY
            return
        _fix_lines(cube)


def _cheapest_in_lines(cost: np.ndarray, at: tuple) -> tuple | None:
    best, where = np.inf, None
    for axis in range(cost.ndim):
        index = list(at)
        index[axis] = slice(None)
        line = cost[tuple(index)]
        i = int(np.argmin(line))
        if line[i] < best:
            best, where = line[i], tuple(at[:axis]) + (i,) + tuple(at[axis + 1 :])
    return where


def protect(cube: Cube, sdc: Sdc) -> Cube:
    # Many small factorisations: one BLAS thread each (threads spin on a busy box).
    with threadpool_limits(1):
        primary(cube, sdc)
        secondary(cube)
    return cube


def rounded(values: np.ndarray, base: int | None) -> np.ndarray:
    if not base:
        return values
    return np.round(values / base) * base


def to_arrow(cube: Cube, sdc: Sdc, integer: bool) -> pa.Table:
    """Long (tidy) table: one row per cell, margins labelled ``Total``; the value is
    null where a symbol stands in for it."""
    grids = np.meshgrid(*[np.arange(s) for s in cube.values.shape], indexing="ij")
    out: dict[str, pa.Array] = {}
    for dim, labels, grid in zip(cube.dims, cube.labels, grids, strict=True):
        names = np.array([*labels, TOTAL], dtype=object)
        out[dim] = pa.array(names[grid.ravel()], pa.string())
    value = rounded(cube.values, sdc.rounding).ravel()
    supp = cube.suppressed.ravel()
    low = (value == 0) & (cube.values.ravel() != 0) & ~supp
    symbol = np.where(supp, "c", np.where(low, "low", ""))
    hide = supp | low
    if integer:
        out["value"] = pa.array(np.round(value).astype(np.int64), mask=hide)
    else:
        out["value"] = pa.array(np.round(value, 2), mask=hide)
    out["symbol"] = pa.array(np.where(symbol == "", None, symbol), pa.string())
    return pa.table(out)


def rules(sdc: Sdc) -> dict:
    """The rules and parameters applied, as printed in every aggregate release."""
    return {
        "primary": f"cells with 1 to {sdc.threshold - 1} contributors suppressed (c)",
        "dominance": f"sums where the {sdc.dominance_n} largest contributors make "
        f"{sdc.dominance_k:.0%} or more are suppressed (c)",
        "p_percent": f"sums where the total less its 2 largest contributions is under "
        f"{sdc.p_ratio:.0%} of the largest are suppressed (c): p% rule, p = "
        f"{sdc.p_ratio:.0%}",
        "secondary": "no row, column or total line has a single suppressed cell; "
        "no suppressed cell is fixed by the table's equations (exact check)",
        "rounding": f"published values rounded to base {sdc.rounding}"
        if sdc.rounding
        else "none",
        "linked_tables": "a cell shared by tables of the same records is suppressed "
        "in all of them or none",
        "group_disclosure": "where a group's whole total is in one category of the "
        "table's columns, that group's cells are suppressed (c), zeros included",
        "zeros": "other true zeros published",
        "symbols": SYMBOLS,
    }
