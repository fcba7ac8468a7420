"""The builder's secondary suppression across releases (issue 10 point 5): a new
table, once protected on its own, is put in one system with every earlier table over
the same records that it is linked to through the hierarchies (``linked``), and
suppression is added until no suppressed cell of any of them can be recovered or
narrowed below its protection interval.

Each round finds the cells the combined system leaves short (by the interval audit
of the whole linked system), then hides, for every linking equation that holds one,
the smallest published cell of the new table in that equation (never a cell an
earlier release already published: that protects nothing), and lets the table's own
hypercube secondary suppression protect what it hid. A table that still cannot be
protected after ``ROUNDS`` rounds is withheld whole (apart from cells already
public), which adds nothing to what earlier releases gave.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pupilshare.plan import Sdc, TableSpec
from pupilshare.release import audit, linked, sdc
from pupilshare.store import Store

ROUNDS = 12
RULE = (
    "every suppressed cell keeps its protection interval when this table is "
    "combined with every earlier published table over the same records, through "
    "the hierarchies (school to local authority to nation, outcome to reached the "
    "expected standard, year group to key stage): cells an earlier table's "
    "published cells add up to are public; suppression is added until the linked "
    "system protects every suppressed cell of every table in it, else the table "
    "is withheld"
)


def as_table(spec: TableSpec, cube: sdc.Cube) -> linked.Table:
    return linked.Table(
        spec.name,
        f"{spec.dataset}:{spec.measure or 'count'}",
        {item: frozenset(map(str, vals)) for item, vals in spec.filters},
        tuple(cube.dims),
        tuple(tuple(str(c) for c in lab) for lab in cube.labels),
        cube.values,
        cube.suppressed & (cube.status != sdc.MISSING),
    )


def short_cells(
    spec: TableSpec, cube: sdc.Cube, rules: Sdc, earlier: list[linked.Table]
) -> tuple[linked.Joint | None, np.ndarray]:
    """The linked system and which of its columns lack their protection."""
    j = linked.joint(as_table(spec, cube), earlier)
    if j is None:
        return None, np.zeros(0, bool)
    up, down, width = sdc.protection(cube, rules)
    flat = j.cell[j.owner == 0]
    counts = spec.measure is None
    w, u, d = linked.needs(j, rules.threshold, rules.min_interval, counts)
    mine = j.owner == 0
    w[mine] = width.ravel()[flat]
    u[mine] = up.ravel()[flat]
    d[mine] = down.ravel()[flat]
    short = linked.short(j, audit.Need(w, u, d))
    key = (rules.threshold, rules.min_interval, counts)
    return j, short & ~linked.already_short(j, short, _audit_alone(rules, counts), key)


def _audit_alone(rules: Sdc, counts: bool) -> Callable[[linked.Joint], np.ndarray]:
    """The audit of earlier tables linked among themselves (``already_short``)."""

    def short(jj: linked.Joint) -> np.ndarray:
        w, u, d = linked.needs(jj, rules.threshold, rules.min_interval, counts)
        return linked.short(jj, audit.Need(w, u, d))

    return short


def protect(
    store: Store,
    spec: TableSpec,
    cube: sdc.Cube,
    rules: Sdc,
    siblings: tuple[linked.Table, ...] = (),
) -> int:
    """Add suppression to ``cube`` until the linked system protects every suppressed
    cell; returns the cells added (withholds the table whole if it cannot).
    ``siblings``: the tables of the same release built before it, linked to it
    through the hierarchies as earlier releases are."""
    if cube.perturbed or cube.values.ndim != len(cube.labels):
        return 0
    head = f"{spec.dataset}:{spec.measure or 'count'}"
    earlier = linked.earlier_tables(store, head)
    earlier = [*earlier, *(t for t in siblings if t.head == head)]
    if not earlier:
        return 0
    before = int(cube.suppressed.sum())
    for _ in range(ROUNDS):
        if cube.withheld:
            break
        j, short = short_cells(spec, cube, rules, earlier)
        if j is None or not short.any():
            return int(cube.suppressed.sum()) - before
        hide = _to_hide(j, short, cube)
        if not len(hide):
            break
        cube.status.ravel()[hide] = sdc.SECONDARY
        sdc.secondary(cube, rules)
    cube.status[(cube.status == sdc.PUBLISHED) & ~cube.public] = sdc.SECONDARY
    cube.withheld = True
    reveal_determined(cube)
    return int(cube.suppressed.sum()) - before


def protected_together(
    store: Store, specs: list[TableSpec], cubes: list[sdc.Cube], rules: Sdc
) -> bool:
    """Whether a release's tables, all linked together and with every earlier table
    over the same records, leave no suppressed cell short: one audit where
    re-protecting each table with the others would run one per table.

    Each table's own system (``protect``: it new, the rest earlier) is the part of
    this one its equations reach, asking no more of any cell (each release table's
    cells ask the larger of their own protection and what an earlier table's would),
    and exempting no more (only what the earlier releases alone expose), so a
    release this finds protected is one ``protect`` would leave as it is."""
    return not release_short(store, specs, cubes, rules)


def release_short(
    store: Store, specs: list[TableSpec], cubes: list[sdc.Cube], rules: Sdc
) -> list[tuple[list[int], linked.Joint, np.ndarray]]:
    """For each linked group of the release's tables (indices into ``specs``) with
    a cell short in the whole release's system: its system and the short cells."""
    groups: dict[str, list[int]] = {}
    for i, (spec, cube) in enumerate(zip(specs, cubes, strict=True)):
        if cube.perturbed or cube.values.ndim != len(cube.labels):
            continue
        groups.setdefault(f"{spec.dataset}:{spec.measure or 'count'}", []).append(i)
    out = []
    for head, members in groups.items():
        j = linked.joint(
            [as_table(specs[i], cubes[i]) for i in members],
            linked.earlier_tables(store, head),
        )
        if j is None:
            continue
        counts = specs[members[0]].measure is None
        w, u, d = linked.needs(j, rules.threshold, rules.min_interval, counts)
        for k, i in enumerate(members):
            mine = j.owner == k
            flat = j.cell[mine]
            up, down, width = sdc.protection(cubes[i], rules)
            w[mine] = np.maximum(w[mine], width.ravel()[flat])
            u[mine] = np.maximum(u[mine], up.ravel()[flat])
            d[mine] = np.maximum(d[mine], down.ravel()[flat])
        short = linked.short(j, audit.Need(w, u, d))
        alone = _audit_alone(rules, counts)
        key = (rules.threshold, rules.min_interval, counts)
        short &= ~linked.already_short(j, short, alone, key)
        if short.any():
            out.append((members, j, short))
    return out


def repair_release(
    store: Store, specs: list[TableSpec], cubes: list[sdc.Cube], rules: Sdc
) -> int | None:
    """One round of repair of the release's tables as one system: None if the
    whole release leaves nothing short; else how many tables had cells hidden
    (``protect``'s rule: for every equation holding a short cell, the smallest
    published cell of the release table it leans on), their hypercubes run again."""
    found = release_short(store, specs, cubes, rules)
    if not found:
        return None
    hide: dict[int, set[int]] = {}
    shown = {i: _shown(c) for i, c in enumerate(cubes)}
    for members, j, short in found:
        coupled = j.a[j.row_offset :].tocsr()
        rows = np.unique(coupled[:, np.flatnonzero(short)].nonzero()[0])
        for r in rows:
            k = int(j.leans_owner[r])
            if k >= 0:
                i = members[k]
                cell = _smallest_shown(j.leans_on[r], cubes[i], shown[i])
                if cell is not None:
                    hide.setdefault(i, set()).add(cell)
    for i, cells in hide.items():
        cubes[i].status.ravel()[sorted(cells)] = sdc.SECONDARY
        sdc.secondary(cubes[i], rules)
    return len(hide)


def _shown(cube: sdc.Cube) -> np.ndarray:
    """Published cells (flat) that no earlier release has published."""
    return ~cube.suppressed.ravel() & ~cube.public.ravel()


def _smallest_shown(cells: np.ndarray, cube: sdc.Cube, shown: np.ndarray) -> int | None:
    """The smallest of ``cells`` (positive first) that is ``shown``, or None."""
    cells = cells[shown[cells]]
    if not len(cells):
        return None
    values = cube.values.ravel()
    positive = cells[values[cells] > 0]
    pick = positive if len(positive) else cells
    return int(pick[np.argmin(values[pick])])


def reveal_determined(cube: sdc.Cube) -> None:
    """A withheld table shows only cells earlier releases made public; a hidden
    cell that those alone give away (the last unknown of a line) is public too, so
    it is shown (hiding it protects nothing), unless it is itself sensitive."""
    movable = (cube.status == sdc.SECONDARY) | (cube.status == sdc.PUBLISHED)
    while True:
        hidden = cube.suppressed
        found = np.zeros(hidden.shape, bool)
        for axis in range(hidden.ndim):
            h = np.moveaxis(hidden, axis, -1)
            one = h.sum(axis=-1) == 1
            mark = np.moveaxis(h & one[..., None], -1, axis)
            found |= mark
        found &= movable & hidden
        if not found.any():
            return
        cube.status[found] = sdc.PUBLISHED
        cube.public |= found


def _to_hide(j: linked.Joint, short: np.ndarray, cube: sdc.Cube) -> np.ndarray:
    """For each linking equation holding a short cell, the new table's smallest
    published cell in it that an earlier release has not published."""
    coupled = j.a[j.row_offset :].tocsr()
    rows = np.unique(coupled[:, np.flatnonzero(short)].nonzero()[0])
    shown = _shown(cube)
    out = {_smallest_shown(j.leans_on[r], cube, shown) for r in rows}
    return np.array(sorted(out - {None}), dtype=np.int64)
