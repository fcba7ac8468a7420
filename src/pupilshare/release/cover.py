"""Linked count tables of one release protected together, as one *cover table*
(tau-argus's way with linked tables): one suppression pattern for all of them.

Tables of one release over the same records are often slices of one finer table.
The NCMP prevalence tables are: ``prevalence_by_area`` (area x year x weight
category) is the school-year Total of ``prevalence_by_year``, and the Total column
of ``of_which_severely_obese`` (area x year x severely obese, obese children only)
is the obese column of ``prevalence_by_area``. Protected one after another, each
table's complements become another table's exposures, and repairing those one table
at a time cascades until everything is hidden (at 200,000 pupils every prevalence
cell was ``c``).

So the tables are put into one cover: its dimensions are every dimension and filter
item of the tables (here area x year x school year x weight category x severely
obese), every table a slice of it (a filter item fixed at its value, an item the
table does not show at its Total). Then:

1. primary suppression is each table's own (its threshold, its group disclosure),
   laid onto the cover; a cell two tables show is sensitive if either says so;
2. cells of the cover no table shows are hidden already and need no protection
   (``sdc.UNSHOWN``), so they are free complements, never a cost; those that are 0
   are taken as known (a severely obese child who is not obese is impossible), so
   they are never moved;
3. hypercube secondary suppression runs once, on the cover. Every hypercube moves
   cells of the cover so that every line of it still adds up; each table's lines
   are lines of the cover, so whatever the tables show, together, cannot pin a
   hidden cell closer than its cube allows. One pattern, shared complements, the
   same cell hidden in every table that shows it.

Each table's part of a cube (the corners on its slice, a cube of its own) is offered
to the output check as its witness; the check verifies it and audits the tables
together from its own true values (``tablecheck.release_linked_reasons``).

Used only where it is exact and small: counts under suppression, one source, each
filter a single category, no item a rollup of another (school and LA: a hierarchy,
not a cross), at most ``MAX_DIMS`` dimensions, the cover at most ``MAX_RATIO`` times
the tables' cells, and every table's cells equal to the cover's slice (a pupil with
two records in one cell counts once there). Anything else keeps the table-by-table
path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pupilshare.plan import Sdc, TableSpec
from pupilshare.release import hypercube, linked, sdc

MAX_DIMS = 6  # a hypercube has 2**d corners
MAX_RATIO = 4  # cover cells per cell of the tables it covers
SENSITIVE = (sdc.PRIMARY, sdc.DOMINANCE, sdc.GROUP, sdc.P_PERCENT)


@dataclass
class Slice:
    """Where a table lies in the cover: for each cover axis the cover indices of
    the table's categories then its Total (a dimension of the table), or one index
    (a filter's category, or the Total of an item the table does not show)."""

    index: list[np.ndarray]
    # Cover axis of each of the table's dimensions, in the table's order.
    axes: list[int]

    def take(self, a: np.ndarray) -> np.ndarray:
        """The table's cells of a cover-shaped array, in the table's layout."""
        sub = a[np.ix_(*self.index)]
        flat = [j for j in range(sub.ndim) if j not in self.axes]
        return np.transpose(sub, [*self.axes, *flat]).reshape(
            tuple(sub.shape[j] for j in self.axes)
        )

    def put(self, a: np.ndarray, part: np.ndarray) -> None:
        """Write a table-shaped array onto its cells of the cover."""
        shape = [len(i) for i in self.index]
        order = [*self.axes, *(j for j in range(len(shape)) if j not in self.axes)]
        expanded = part.reshape(
            part.shape + (1,) * (len(shape) - len(self.axes))
        ).transpose(np.argsort(order))
        a[np.ix_(*self.index)] = expanded.reshape(shape)

    def flat(self, shape: tuple[int, ...]) -> np.ndarray:
        """Cover flat index of every table cell, in the table's layout."""
        every = np.arange(int(np.prod(shape))).reshape(shape)
        return self.take(every)


def groups(specs: list[TableSpec], rules: Sdc) -> list[list[int]]:
    """Tables (indices) that may share a cover: counts of one dataset under
    suppression, single-category filters, at most ``MAX_DIMS`` items, none a rollup
    of another. A group needs two tables or more."""
    if rules.method != "suppression":
        return []
    by_dataset: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        if spec.measure is None and all(len(v) == 1 for _, v in spec.filters):
            by_dataset.setdefault(spec.dataset, []).append(i)
    out = []
    for members in by_dataset.values():
        items = dims_of([specs[i] for i in members])
        rollups = any(a in items for i in items for a in linked.ancestors(i))
        if len(members) > 1 and len(items) <= MAX_DIMS and not rollups:
            out.append(members)
    return out


def dims_of(specs: list[TableSpec]) -> tuple[str, ...]:
    """The cover's dimensions: every table's rows, columns and filter items."""
    out: list[str] = []
    for spec in specs:
        for item in (*spec.rows, *spec.columns, *(f for f, _ in spec.filters)):
            if item not in out:
                out.append(item)
    return tuple(out)


def build(
    specs: list[TableSpec],
    rules: Sdc,
    table_of: Callable[[TableSpec], sdc.Cube],
    mark: Callable[[TableSpec, sdc.Cube], None],
) -> list[sdc.Cube] | None:
    """The tables protected together through their cover, or None where a cover
    would not be exact or small (the caller protects them one by one).
    ``table_of`` reduces a table (or the cover, a table of every dimension) to its
    cube from the records; ``mark`` lays the earlier releases' public and hidden
    cells onto a table's cube."""
    cover = table_of(TableSpec("cover", specs[0].dataset, dims_of(specs)))
    if cover.values.ndim != len(cover.labels):
        return None  # no records
    tables = [table_of(spec) for spec in specs]
    if cover.values.size > MAX_RATIO * sum(t.values.size for t in tables):
        return None
    slices = []
    for spec, table in zip(specs, tables, strict=True):
        at = _slice(spec, table, cover)
        if at is None or not np.array_equal(at.take(cover.values), table.values):
            return None  # not the cover's slice: not exact
        slices.append(at)
    shown = np.zeros(cover.values.shape, bool)
    for spec, table, at in zip(specs, tables, slices, strict=True):
        mark(spec, table)
        sdc.primary(table, rules)
        status = at.take(cover.status)
        # Sensitive in either table wins, then hidden by an earlier release.
        first = np.isin(table.status, SENSITIVE) | (status == sdc.PUBLISHED)
        at.put(cover.status, np.where(first, table.status, status))
        at.put(cover.public, at.take(cover.public) | table.public)
        at.put(shown, np.ones(table.values.shape, bool))
    unshown = ~shown & (cover.status == sdc.PUBLISHED)
    cover.status[unshown] = sdc.UNSHOWN
    cover.public |= ~shown & _impossible(cover, specs)  # known zeros: never moved
    sdc.secondary(cover, rules)
    for table, at in zip(tables, slices, strict=True):
        table.status = at.take(cover.status).copy()
        table.public = at.take(cover.public).copy()
        table.cubes = _witness(cover, at, table.values.shape)
        table.withheld = cover.withheld
    return tables


def _impossible(cover: sdc.Cube, specs: list[TableSpec]) -> np.ndarray:
    """Cells of a combination of the tables' categories (their columns and
    filters) that no record in the whole population has: structural zeros (severely
    obese but not obese), known to any reader, so never moved by a cube."""
    kinds = {i for s in specs for i in (*s.columns, *(f for f, _ in s.filters))}
    at = tuple(slice(None) if d in kinds else slice(-1, None) for d in cover.dims)
    return np.broadcast_to(cover.values[at] == 0, cover.values.shape)


def _slice(spec: TableSpec, table: sdc.Cube, cover: sdc.Cube) -> Slice | None:
    """Where ``table`` lies in ``cover``, or None (a category the cover lacks)."""
    filters = dict(spec.filters)
    index, axes = [], []
    for c, (dim, labels) in enumerate(zip(cover.dims, cover.labels, strict=True)):
        where = {str(v): i for i, v in enumerate(labels)}
        if dim in table.dims:
            j = table.dims.index(dim)
            try:
                own = [where[str(v)] for v in table.labels[j]]
            except KeyError:
                return None
            index.append(np.array([*own, len(labels)], np.int64))
            axes.append((j, c))
        elif dim in filters:
            value = str(filters[dim][0])
            if value not in where:
                return None
            index.append(np.array([where[value]], np.int64))
        else:
            index.append(np.array([len(labels)], np.int64))
    return Slice(index, [c for _, c in sorted(axes)])


def _witness(cover: sdc.Cube, at: Slice, shape: tuple[int, ...]) -> hypercube.Cubes:
    """The cover's cubes as the table's own: a cube with two corners on the
    table's slice on every axis the table is cut along keeps, on the slice, a cube
    of the table's lines (every line of the table holds two of its corners)."""
    d = len(shape)
    corners = cover.cubes.corners
    if len(corners) == 0:
        return hypercube.Cubes.empty(d)
    to_table = np.full(cover.values.size, -1, np.int64)
    to_table[at.flat(cover.values.shape).ravel()] = np.arange(int(np.prod(shape)))
    mine = to_table[corners]
    inside = mine >= 0
    keep = inside.sum(axis=1) == 2**d
    if not keep.any():
        return hypercube.Cubes.empty(d)
    rows = np.flatnonzero(keep)
    picked = inside[rows]
    return hypercube.Cubes(
        mine[rows][picked].reshape(len(rows), 2**d),
        cover.cubes.signs[rows][picked].reshape(len(rows), 2**d),
    )
