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
2. secondary suppression by hypercubes (``hypercube``, tau-argus's GHMITER idea):
   each suppressed cell gets a set of complements that lets it move by at least its
   required protection (``protection``: a sensitive count's feasible interval at
   least ``min_interval`` wide, a sensitive sum ``p_ratio`` of its value either
   side) while every line still adds up; batched in NumPy, so the cost grows about
   linearly with the table (``bench/sdc_scale.py``). The cubes chosen are kept as
   witnesses the output check verifies on its own equations;
3. optional rounding of published values to a base (``low``: rounds to 0, not 0).

True zeros are published (a zero count of an observed category is not suppressed);
suppressed cells are shown as ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.linalg import eigh
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from pupilshare.plan import Sdc
from pupilshare.release import hypercube

PUBLISHED, PRIMARY, DOMINANCE, SECONDARY, GROUP, P_PERCENT = 0, 1, 2, 3, 4, 5
MISSING = 6  # no data: the file that held it was rejected (x)
# A cover table's cell that no published table shows (``cover``): hidden already,
# so a free complement, with nothing of its own to protect.
UNSHOWN = 7
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
    # Axes of attributes (the table's columns): a group all in one category is
    # a disclosure about every member (group disclosure).
    attribute_axes: tuple[int, ...] = ()
    # Cells already published in an earlier release over the same records: they
    # protect nothing, so they are never complements.
    public: np.ndarray = field(default=None)  # type: ignore[assignment]
    cubes: hypercube.Cubes = field(default=None)  # type: ignore[assignment]
    withheld: bool = False
    # Cell key perturbation: ``values`` are the published (perturbed) counts and
    # ``contributors`` the true ones.
    perturbed: bool = False
    # Rejected files whose scope some cells lie in (shown x, ``missing``).
    not_available: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status is None:
            self.status = np.zeros(self.values.shape, dtype=np.uint8)
        if self.public is None:
            self.public = np.zeros(self.values.shape, dtype=bool)
        if self.cubes is None:
            self.cubes = hypercube.Cubes.empty(self.values.ndim)

    @property
    def suppressed(self) -> np.ndarray:
        return self.status != PUBLISHED


def with_margins(a: np.ndarray) -> np.ndarray:
    """Append a total along every axis (margins of margins included)."""
    for axis in range(a.ndim):
        a = np.concatenate([a, a.sum(axis=axis, keepdims=True)], axis=axis)
    return a


def magnitude_rules(
    values: np.ndarray, top: np.ndarray, sdc: Sdc
) -> tuple[np.ndarray, np.ndarray]:
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


def protection(cube: Cube, rules: Sdc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How far each suppressed cell must be free to rise, to fall, and both together.

    Sensitive counts: a feasible interval at least ``min_interval`` wide, and room
    to move both ways (a cell of 0 only up). Sensitive sums: ``p_ratio`` of the value
    either side (the p% rule's protection). Every other suppressed cell (complements,
    a shared cell suppressed to match a linked table) must not be recoverable: an
    interval at least one unit wide (1 for counts, a penny for sums).
    """
    x = np.abs(cube.values)
    sensitive = np.isin(cube.status, (PRIMARY, DOMINANCE, GROUP, P_PERCENT))
    unit = 1.0 if cube.top is None else 0.01
    if cube.top is None:
        up = np.full(x.shape, unit)
        down = np.minimum(x, unit)
        # A zero hidden for group disclosure need only be possibly not zero.
        width = np.where(x > 0, float(rules.min_interval), unit)
    else:
        up = np.maximum(rules.p_ratio * x, unit)
        down = np.minimum(x, up)
        width = up + down
    supp = cube.suppressed
    up = np.where(sensitive, up, 0.0)
    down = np.where(sensitive, down, 0.0)
    hidden = supp & ~np.isin(cube.status, (MISSING, UNSHOWN))
    width = np.where(sensitive, width, np.where(hidden, unit, 0.0))
    return up, down, width


def secondary(cube: Cube, rules: Sdc | None = None) -> None:
    """Hypercube secondary suppression (``hypercube``) for every suppressed cell not
    yet protected; a table some cell of which no cube can protect (its margins
    already public) is withheld whole."""
    rules = rules or Sdc()
    up, down, width = protection(cube, rules)
    have_up, have_down = hypercube.covers(cube.values, cube.cubes)
    done = hypercube.met(have_up, have_down, up.ravel(), down.ravel(), width.ravel())
    width = np.where(done.reshape(width.shape), 0.0, width)
    usable = ~cube.public
    mask = cube.suppressed.copy()
    failed, cubes = hypercube.protect(cube.values, mask, up, down, width, usable)
    cube.status[mask & ~cube.suppressed] = SECONDARY
    cube.cubes = hypercube.Cubes(
        np.concatenate([cube.cubes.corners, cubes.corners]),
        np.concatenate([cube.cubes.signs, cubes.signs]),
    )
    if len(failed):
        # Withheld whole, except cells an earlier release already published: hiding
        # those protects nothing, and the output check refuses a table that does.
        cube.status[(cube.status == PUBLISHED) & ~cube.public] = SECONDARY
        cube.withheld = True


def protect(cube: Cube, sdc: Sdc) -> Cube:
    primary(cube, sdc)
    secondary(cube, sdc)
    return cube


def rounded(values: np.ndarray, base: int | None) -> np.ndarray:
    if not base:
        return values
    return np.round(values / base) * base


def to_arrow(cube: Cube, sdc: Sdc, integer: bool) -> pa.Table:
    """Long (tidy) table: one row per cell, margins labelled ``Total``; the value is
    null where a symbol stands in for it."""
    shape = cube.values.shape
    out: dict[str, pa.Array] = {}
    for axis, (dim, labels) in enumerate(zip(cube.dims, cube.labels, strict=True)):
        stride = int(np.prod(shape[axis + 1 :]))
        codes = (np.arange(cube.values.size, dtype=np.int64) // stride) % shape[axis]
        names = pa.array([*labels, TOTAL], pa.string())
        out[dim] = pc.take(names, pa.array(codes))  # no Python object per cell
    value = rounded(cube.values, sdc.rounding).ravel()
    supp = cube.suppressed.ravel()
    low = (value == 0) & (cube.values.ravel() != 0) & ~supp
    missing = (cube.status == MISSING).ravel()
    symbol = np.where(missing, "x", np.where(supp, "c", np.where(low, "low", "")))
    hide = supp | low
    if integer:
        out["value"] = pa.array(np.round(value).astype(np.int64), mask=hide)
    else:
        out["value"] = pa.array(np.round(value, 2), mask=hide)
    out["symbol"] = pa.array(np.where(symbol == "", None, symbol), pa.string())
    return pa.table(out)


SUPPRESSION_RULES = (
    "primary",
    "dominance",
    "p_percent",
    "secondary",
    "linked_tables",
    "group_disclosure",
    "additivity",
)


def rules(sdc: Sdc, sums: list[str] | None = None) -> dict:
    """The rules and parameters applied, as printed in every aggregate release.
    Under cell key perturbation counts are not suppressed: the suppression rules
    are given only for the tables of sums (``sums``), which keep them."""
    every = _rules(sdc)
    if sdc.method != "cell_key":
        return every
    out = {k: v for k, v in every.items() if k not in SUPPRESSION_RULES}
    if sums:
        out["sums"] = {
            "tables": sums,
            "method": "cell suppression (cell key perturbation is for counts)",
            **{k: every[k] for k in SUPPRESSION_RULES},
        }
    return out


def _rules(sdc: Sdc) -> dict:
    return {
        "primary": f"cells with 1 to {sdc.threshold - 1} contributors suppressed (c)",
        "dominance": f"sums where the {sdc.dominance_n} largest contributors make "
        f"{sdc.dominance_k:.0%} or more are suppressed (c)",
        "p_percent": f"sums where the total less its 2 largest contributions is under "
        f"{sdc.p_ratio:.0%} of the largest are suppressed (c): p% rule, p = "
        f"{sdc.p_ratio:.0%}",
        "secondary": "hypercube secondary suppression: every suppressed count can "
        f"lie anywhere in an interval at least {sdc.min_interval} wide (a suppressed "
        f"sum within {sdc.p_ratio:.0%} either side of its value) given every row, "
        "column and total, and every cell earlier releases over the same records "
        "published; no suppressed cell can be worked out exactly",
        "rounding": f"published values rounded to base {sdc.rounding}"
        if sdc.rounding
        else "none",
        "linked_tables": "a cell shared by tables of the same records is suppressed "
        "in all of them or none",
        "group_disclosure": "where a group's whole total is in one category of the "
        "table's columns, that group's cells are suppressed (c), zeros included",
        "zeros": "other true zeros published",
        "additivity": "published cells add up exactly to their published totals; "
        "a c cell is withheld, not 0, and cannot be worked out from the rest: in a "
        "row or column holding c cells, the c cells together make up the "
        "difference, and each could lie anywhere in its protection interval",
        "not_available": "x: no data, the file that held it was rejected at "
        "collection (never shown as 0)",
        "symbols": SYMBOLS,
    }
