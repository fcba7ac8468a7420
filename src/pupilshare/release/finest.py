"""Linked tables whose couplings between pairs are not enough: the test, and the
exact system over their finest common cells (issue 10 point 5).

``linked.joint`` couples tables pair by pair over their suppressed cells. That
system is the intruder's whole knowledge only when the tables over one population
form a tree: any non-negative tables that agree on what each pair has in common
then come from some records (the join tree theorem for acyclic hypergraphs).
Two shapes break it:

* a *cycle*: school x sex, school x FSM and sex x FSM, each pair agreeing, yet no
  records may give all three; with hierarchies, school x outcome, LA x sex x
  reached the expected standard, sex x outcome (the LA table holds only the
  coarse levels, so the fine outcome the other two share passes around it);
* a *slice*: a table cut by a filter (one year) beside a table that sums over
  that item (every year). No cell of either is a sum of the other's, so no pair
  coupling exists, yet the intruder knows each cell of the sum is at least the
  slice's.

``problem`` tests a population's tables for both. A table's *vertices* are the
items it shows or filters on, each with every item it rolls up to
(``linked.ancestors``: a school table has LAESTAB and ``la_code``, an LA table
``la_code`` alone), so levels of a hierarchy are separate vertices and a coarse
table cannot stand in for a fine one. The hypergraph of those vertex sets is
reduced by GYO (remove a vertex in one edge only, an edge inside another, until
nothing changes): it is acyclic (a tree) when at most one edge is left, and the
edges left are the tables of the cycle.

A population that is not a tree gets ``system``: one unknown per combination of
the finest categories its tables use (every item at its finest level, a
synthetic "rest of" category under every coarser category, one "none of these"),
each published cell the sum of the unknowns in it. That is the intruder's
knowledge exactly, and the audit solves it as it solves the rest (HiGHS LPs,
``audit.audit``). The builder repairs what it finds short as for any other
exposure: for a short cell, the smallest published cell of a new table that
shares records with it is hidden (``linked._finest_leans``), and its hypercubes
run again. Its size is the product of the categories per item;
``MAX_CELLS`` bounds it, and a larger one refuses the release naming the tables
and the cycle (``Unauditable``): never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from pupilshare.errors import Blocked
from pupilshare.release.hierarchy import HIERARCHY, ancestors

if TYPE_CHECKING:
    from collections.abc import Callable

    from pupilshare.release.linked import Table

# Finest cells of one population the exact audit takes on. Measured with
# ``bench/finest.py`` (a cycle of three tables, a fifth of the cells suppressed;
# process CPU of one audit, load average 7 on the shared 2 cores): 936 cells 0.2 s,
# 1,938 cells 0.6 s, 3,900 cells 2.8 s, 7,881 cells 11.5 s: four times the time for
# twice the cells. The builder audits a table up to a dozen times while it repairs
# it, so 4,000 keeps that near half a minute, well inside a release's time budget;
# beyond it, a refusal.
MAX_CELLS = 4000
REST = "/*"  # suffix of a synthetic category: the rest of a coarser category
NONE = "*"  # the category of every item outside every table's categories


class Unauditable(Blocked):
    """Linked tables the audit cannot solve exactly: refused, never passed."""


def vertices(t: Table) -> frozenset[str]:
    """The items a table shows or filters on, each with what it rolls up to."""
    out: set[str] = set()
    for item in (*t.dims, *t.fixed):
        out.add(item)
        out.update(ancestors(item))
    return frozenset(out)


def gyo(edges: list[frozenset[str]]) -> list[int]:
    """GYO reduction of a hypergraph: the edges left (empty: acyclic)."""
    live = {i: set(e) for i, e in enumerate(edges)}
    while True:
        changed = False
        count: dict[str, int] = {}
        for e in live.values():
            for v in e:
                count[v] = count.get(v, 0) + 1
        for e in live.values():
            lone = {v for v in e if count[v] == 1}
            if lone:
                e -= lone
                changed = True
        for i in sorted(live):
            e = live[i]
            if any(j != i and e <= f for j, f in live.items()):
                del live[i]
                changed = True
        if not changed:
            return sorted(live) if len(live) > 1 else []


def _chain(item: str) -> str:
    """The top of an item's hierarchy (the item itself if it has none)."""
    while item in HIERARCHY:
        item = HIERARCHY[item][0]
    return item


def _slices(
    tables: list[Table], covers: Callable[[Table, Table], bool] | None
) -> list[tuple[int, int, str]]:
    """Pairs (slice, sum, item) where one table is cut by a filter on an item the
    other neither shows at that level or finer nor cuts the same way, and the two
    are not kept apart by another filter, nor both sums of a third table's cells
    (whose non-negative cells then carry the inequality): the intruder's
    inequality between them is in no pair coupling."""
    out = []
    for i, a in enumerate(tables):
        for j, b in enumerate(tables):
            if i == j or _apart(a, b):
                continue
            for item, allowed in a.fixed.items():
                if b.fixed.get(item) == allowed:
                    continue
                finer = any(d == item or item in ancestors(d) for d in b.dims)
                if finer:
                    continue
                if covers is None or not any(
                    covers(c, a) and covers(c, b)
                    for k, c in enumerate(tables)
                    if k not in (i, j)
                ):
                    out.append((i, j, item))
    return out


def _apart(a: Table, b: Table) -> bool:
    """Two tables with no record in common: one filter item cut to disjoint
    categories."""
    return any(
        item in b.fixed and not (allowed & b.fixed[item])
        for item, allowed in a.fixed.items()
    )


def problem(
    tables: list[Table], covers: Callable[[Table, Table], bool] | None = None
) -> str | None:
    """Why pair couplings do not capture what these tables (one population) give
    an intruder together, or None when they are a tree. ``covers(fine, coarse)``:
    every cell of ``coarse`` is a sum of ``fine``'s (``linked.covers``; without
    it no slice is taken as covered)."""
    left = gyo([vertices(t) for t in tables])
    if left:
        parts = [
            f"{tables[i].name} ({' x '.join(tables[i].dims) or 'one cell'})"
            for i in left
        ]
        return "a cycle: " + ", ".join(parts)
    cut = _slices(tables, covers)
    if cut:
        i, j, item = cut[0]
        return (
            f"a slice: {tables[i].name} is cut by {item}, {tables[j].name} sums over it"
        )
    return None


@dataclass
class Axis:
    """One hierarchy (or item) of the finest cells: its finest item, and each
    finest category's label at every level (``at``)."""

    item: str
    at: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return len(self.at[self.item])


def universe(tables: list[Table]) -> list[Axis]:
    """The finest categories of a population's tables, hierarchy by hierarchy.
    Categories no table's filters admit are left out (no table counts them)."""
    used: dict[str, set[str]] = {}
    seen: dict[str, set[str]] = {}
    for t in tables:
        for d, lab in zip(t.dims, t.labels, strict=True):
            used.setdefault(_chain(d), set()).add(d)
            seen.setdefault(d, set()).update(lab)
        for item, allowed in t.fixed.items():
            used.setdefault(_chain(item), set()).add(item)
            seen.setdefault(item, set()).update(allowed)
    axes = []
    for chain in sorted(used):
        items = used[chain]
        finest = max(items, key=lambda i: len(ancestors(i)))
        if not items <= {finest, *ancestors(finest)}:
            raise Unauditable(
                f"items {sorted(items)} of one hierarchy are not one above another; "
                "the linked tables cannot be audited exactly",
            )
        up = ancestors(finest)
        levels = [finest, *up]
        real = sorted(seen.get(finest, set()))
        at = {finest: list(real)}
        for lv in up:
            at[lv] = [up[lv](c) for c in real]
        # The rest of every coarser category, and none of them at all.
        for k, lv in enumerate(levels[1:], start=1):
            mapped = set(at[lv][: len(real)])
            for v in sorted(seen.get(lv, set()) | mapped):
                for below in levels[:k]:
                    at[below].append(f"{lv}={v}{REST}")
                at[lv].append(v)
                for above, f in ancestors(lv).items():
                    at[above].append(f(v))
        for lv in levels:
            at[lv].append(NONE)
        axis = Axis(finest, {lv: np.asarray(v, dtype=object) for lv, v in at.items()})
        keep = np.zeros(axis.size, bool)
        for t in tables:
            keep |= _filter(t, axis)
        axes.append(Axis(finest, {lv: v[keep] for lv, v in axis.at.items()}))
    return axes


def _filter(t: Table, axis: Axis) -> np.ndarray:
    """Finest categories of ``axis`` inside a table's filters."""
    ok = np.ones(axis.size, bool)
    for item, allowed in t.fixed.items():
        if item in axis.at:
            ok &= np.isin(axis.at[item], list(allowed))
    return ok


def size(axes: list[Axis]) -> int:
    return int(np.prod([a.size for a in axes], dtype=np.int64))


def incidence(t: Table, axes: list[Axis]) -> sparse.csr_matrix:
    """Which finest cells each cell of ``t`` (flat, ``Total`` last on each axis)
    adds up: one Kronecker factor per hierarchy, rows then put in the table's
    order."""
    factors, order = [], []
    for axis in axes:
        mask = _filter(t, axis)[None, :]
        for k, (d, lab) in enumerate(zip(t.dims, t.labels, strict=True)):
            if d not in axis.at:
                continue
            per = np.vstack([axis.at[d] == v for v in lab] + [np.ones(axis.size, bool)])
            mask = (mask[:, None, :] & per[None, :, :]).reshape(-1, axis.size)
            order.append(k)
        factors.append(sparse.csr_matrix(mask.astype(float)))
    m = factors[0] if factors else sparse.csr_matrix(np.ones((1, 1)))
    for f in factors[1:]:
        m = sparse.kron(m, f, format="csr")
    if not order:
        return m
    index = np.unravel_index(np.arange(t.values.size), t.shape)
    rows = np.ravel_multi_index(
        tuple(index[k] for k in order), tuple(t.shape[k] for k in order)
    )
    return m[rows].tocsr()


@dataclass
class System:
    """A population's exact equations: for every cell of each of its tables, the
    finest cells in it, minus the cell itself where it is hidden (a column of the
    linked system), equal to its value where published (else 0); ``y0`` a
    solution (the finest cells of some records the tables agree with)."""

    x: sparse.csr_matrix  # over the linked system's columns
    y: sparse.csr_matrix  # over the finest cells
    b: np.ndarray
    y0: np.ndarray
    owner: np.ndarray  # the table (index in ``linked.joint``'s list) of each row
    hidden_cell: np.ndarray  # the row's cell of that table if hidden, else -1
    rows_of: dict[int, sparse.csr_matrix]  # each table's incidence


def system(
    tables: list[Table],
    members: list[int],
    col_of: list[np.ndarray],
    n: int,
    covers: Callable[[Table, Table], bool] | None = None,
) -> System:
    """The exact system of one population (``members``: indices into ``tables``),
    or ``Unauditable`` when its finest cells are more than ``MAX_CELLS`` or no
    records agree with its tables."""
    mine = [tables[k] for k in members]
    axes = universe(mine)
    cells = size(axes)
    if cells > MAX_CELLS:
        why = problem(mine, covers)  # the caller's test, again only to name it
        raise Unauditable(
            f"tables {', '.join(t.name for t in mine)} over the same records form "
            f"{why}; an intruder combining them can narrow suppressed cells beyond "
            f"what pairs of tables show, and their {cells:,} finest common cells "
            f"are more than the exact audit takes ({MAX_CELLS:,})",
        )
    xs, ys, bs, owners, hid = [], [], [], [], []
    rows_of = {}
    for k in members:
        t = tables[k]
        inc = incidence(t, axes)
        rows_of[k] = inc
        hidden = np.asarray(t.hidden, bool).ravel()
        values = np.asarray(t.values, float).ravel()
        flat = np.flatnonzero(hidden)
        xs.append(
            sparse.csr_matrix(
                (-np.ones(len(flat)), (flat, col_of[k][flat])), shape=(len(values), n)
            )
        )
        ys.append(inc)
        bs.append(np.where(hidden, 0.0, values))
        owners.append(np.full(len(values), k))
        hid.append(np.where(hidden, np.arange(len(values)), -1))
    y = sparse.vstack(ys, format="csr")
    truth = np.concatenate(
        [np.asarray(tables[k].values, float).ravel() for k in members]
    )
    found = linprog(
        np.zeros(cells), A_eq=y, b_eq=truth, bounds=(0, None), method="highs"
    )
    if found.status != 0:
        raise Unauditable(
            f"tables {', '.join(t.name for t in mine)} agree on every cell they "
            "share, but no records give them all: they cannot be audited as one "
            "population",
        )
    return System(
        sparse.vstack(xs, format="csr"),
        y,
        np.concatenate(bs),
        np.maximum(found.x, 0.0),
        np.concatenate(owners),
        np.concatenate(hid),
        rows_of,
    )
