"""Tables linked through hierarchies: every published cell as a sum of another table's
cells, so tables over the same records become one system of linear equations
(issue 10 point 5).

A cell is named by what it counts (``published_cells``): its dataset and measure and
the categories it fixes. Categories roll up along a hierarchy (``HIERARCHY``): a school
(LAESTAB) lies in its local authority, the LA in the nation (the ``Total``); a
key stage outcome is or is not the expected standard (``reached_expected``); a year
group lies in a key stage. So the key stage trend table's cell "LA 807, reached the
expected standard, key stage 2 reading" is the sum of the school table's cells of
LA 807's schools, key stage 2, reading, outcomes AS, EXS and GDS: an intruder who
holds both tables has one more equation over the school table's suppressed cells.

``joint`` puts the new table(s) and every earlier table that shares their records
into one system over their suppressed cells: each table's own line equations (rows,
columns, totals), and one *coupling* equation for every cell of one table that is a
sum of cells of another (a cell of the coarser table, expressed at the finer table's
most aggregated cells that add up to it). A coupling is used only where the true
values agree (the same records: populations of different agreements differ by scope
and opt-outs, and an intruder cannot difference different records exactly). The
group is closed: an earlier table linked only to another earlier table of the group
joins it, and *every* pair of tables in it is coupled, so an equation an intruder
can only write with three or more tables at once (a school table, an LA table and
a national table published apart) is in the system. The new tables' suppressed
cells must keep their protection, and the earlier tables' must not be recovered
through them (``already_short``: an exposure among the earlier tables alone is not
the new table's doing).

How exact this is. Couplings are written between pairs of tables, over the
suppressed cells, not over the finest common cells (one unknown per combination of
every table's categories, which grows with their product). The two agree whenever
the tables over one population form a tree: nested along the hierarchies or sharing
one common margin (a school table, LA tables, and national tables by sex, by FSM, by
SEN), where any non-negative tables that agree on their common cells come from some
records. They differ for tables that cross unrelated items in a cycle (school x
sex, school x FSM, sex x FSM; or school x outcome, LA x sex x reached the expected
standard, sex x outcome) and for a table cut by a filter beside one that sums over
it: there pairs allow the intruder more room than the records do. So ``joint``
splits its tables into populations (``populations``: tables whose shared cells all
agree), tests each one's shape (``finest.problem``: GYO reduction of the hypergraph
of the items, each level of a hierarchy its own vertex), and for a population that
is not a tree adds its finest cells as unknowns with one equation per cell of each
of its tables (``finest.system``): exact. Such a population joins the group even
where no pair of its tables shares a hidden cell. One whose finest cells are more
than ``finest.MAX_CELLS`` refuses (``finest.Unauditable``), naming the tables and
the cycle: the builder's release is blocked, the check gives it as its reason.
Tables of different populations are coupled only where their cells agree, pair by
pair: an intruder cannot difference different records exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from pupilshare.release.hierarchy import HIERARCHY, ancestors
from pupilshare.store import Store

__all__ = ["HIERARCHY", "ancestors"]

TOTAL = "Total"


def parse(name: str) -> tuple[str, dict[str, frozenset[str]]]:
    """A published cell's name as its head (dataset:measure) and its conditions."""
    head, _, rest = name.partition(";")
    conds: dict[str, frozenset[str]] = {}
    for part in rest.split(";") if rest else []:
        if " in " in part and "=" not in part.split(" in ", 1)[0]:
            item, values = part.split(" in ", 1)
            conds[item] = frozenset(values.split("|"))
        else:
            item, _, value = part.partition("=")
            conds[item] = frozenset([value])
    return head, conds


@dataclass
class Table:
    """One published table as an additive grid: categories per dimension (``Total``
    last on each axis), the true value of every cell, which cells were hidden, and
    what the whole table is restricted to (its filters)."""

    name: str
    head: str
    fixed: dict[str, frozenset[str]]
    dims: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    values: np.ndarray
    hidden: np.ndarray
    # The conditions of each cell, derived on demand.

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def conditions(self, flat: int) -> dict[str, frozenset[str]]:
        at = np.unravel_index(flat, self.shape)
        out = dict(self.fixed)
        for d, lab, i in zip(self.dims, self.labels, at, strict=True):
            if i < len(lab):
                out[d] = frozenset([lab[i]])
        return out

    def cells_for(self, conds: dict[str, frozenset[str]]) -> list[np.ndarray] | None:
        """The cells of this table (indices per axis, ``Total`` included) that add up
        to exactly the records ``conds`` selects, or None if they do not exist: the
        condition is on an item this table neither shows nor rolls up to, or the
        records reach outside this table's filters."""
        for item, allowed in self.fixed.items():
            if conds.get(item) != allowed:
                return None
        per_axis: list[np.ndarray | None] = [None] * len(self.dims)
        for item, allowed in conds.items():
            if item in self.fixed:
                continue
            hit = None
            for axis, d in enumerate(self.dims):
                lab = np.asarray(self.labels[axis], dtype=object)
                if d == item:
                    hit = axis, np.isin(lab, list(allowed))
                    break
                up = ancestors(d).get(item)
                if up is not None:
                    mapped = np.array([up(str(v)) for v in lab], dtype=object)
                    hit = axis, np.isin(mapped, list(allowed))
                    break
            if hit is None:
                return None
            axis, mask = hit
            prior = per_axis[axis]
            per_axis[axis] = mask if prior is None else prior & mask
        out = []
        for axis, mask in enumerate(per_axis):
            n = len(self.labels[axis])
            if mask is None:
                out.append(np.array([n]))  # the Total: every category
            elif mask.all() and n:
                out.append(np.array([n]))
            else:
                out.append(np.flatnonzero(mask))
        return out


def fingerprint(t: Table) -> bytes:
    """What a table is, as a short digest: its head, filters, axes and categories,
    true values and hidden cells. The caches below are keyed by it, so an earlier
    table that changed (or a new table after another round of suppression) is never
    served what was worked out for it before."""
    h = hashlib.blake2b(_structure(t), digest_size=20)
    h.update(np.ascontiguousarray(t.values, dtype=float).tobytes())
    h.update(np.ascontiguousarray(t.hidden, dtype=bool).tobytes())
    h.update(repr(t.values.shape).encode())
    return h.digest()


def _structure(t: Table) -> bytes:
    """A digest of what a table's cells count (not their values): which cells of
    another table add up to each of its cells depends on this alone."""
    fixed = sorted((k, sorted(v)) for k, v in t.fixed.items())
    text = repr((t.head, fixed, t.dims, t.labels))
    return hashlib.blake2b(text.encode(), digest_size=20).digest()


class _Memo(dict):
    """A small cache that forgets everything when full (the work it saves is per
    release: the same earlier tables, round after round, table after table)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: object, value: object) -> None:
        if len(self) >= self.size:
            self.clear()
        self[key] = value


_SUMS = _Memo(4096)  # (structure of fine, structure of coarse) -> sums
_COUPLE = _Memo(4096)  # (fingerprint of fine, fingerprint of coarse) -> rows
_SEARCH = _Memo(512)  # fingerprint -> audit.search's directions
_BEFORE = _Memo(64)  # (fingerprints of a group, needs) -> its short cells
_AGREE = _Memo(4096)  # (counts of fine, counts of coarse) -> they agree


def table_from_grid(
    name: str,
    head: str,
    fixed: dict[str, frozenset[str]],
    dims: tuple[str, ...],
    labels: tuple[tuple[str, ...], ...],
    values: np.ndarray,
    hidden: np.ndarray,
) -> Table:
    return Table(name, head, fixed, dims, labels, values, hidden)


def from_cells(
    name: str, cells: list[str], values: np.ndarray, hidden: np.ndarray
) -> Table | None:
    """An earlier table rebuilt from its recorded cells (names, true values, hidden),
    or None when they do not form a complete grid."""
    parsed = [parse(c) for c in cells]
    heads = {h for h, _ in parsed}
    if len(heads) != 1 or not parsed:
        return None
    counts: dict[str, int] = {}
    for _, conds in parsed:
        for item in conds:
            counts[item] = counts.get(item, 0) + 1
    every = [i for i, n in counts.items() if n == len(parsed)]
    fixed = {}
    for item in every:
        vals = {conds[item] for _, conds in parsed}
        if len(vals) == 1:
            fixed[item] = vals.pop()
    dims = tuple(sorted(i for i in counts if i not in fixed))
    labels = []
    for d in dims:
        vals = set()
        for _, conds in parsed:
            if d in conds:
                if len(conds[d]) != 1:
                    return None
                vals |= conds[d]
        labels.append(tuple(sorted(vals)))
    shape = tuple(len(lab) + 1 for lab in labels)
    if int(np.prod(shape)) != len(parsed):
        return None
    grid_v = np.zeros(shape)
    grid_h = np.zeros(shape, bool)
    seen = np.zeros(shape, bool)
    for (_, conds), v, h in zip(parsed, values, hidden, strict=True):
        at = tuple(
            lab.index(next(iter(conds[d]))) if d in conds else len(lab)
            for d, lab in zip(dims, labels, strict=True)
        )
        grid_v[at], grid_h[at], seen[at] = v, h, True
    if not seen.all():
        return None
    return Table(name, heads.pop(), fixed, dims, tuple(labels), grid_v, grid_h)


def earlier_tables(store: Store, head: str, exclude: str | None = None) -> list[Table]:
    """Every earlier published table of the same dataset and measure, rebuilt from
    the record of published cells (tables shown perturbed or rounded are not exact
    equations and are left out; a table released again unchanged counts once)."""
    from pupilshare.release import published_cells

    if not store.exists(published_cells.TABLE):
        return []
    # The record as it stands (a store object's id may be reused once it is gone).
    size = store.rows(
        "SELECT count(*), max(release_id), sum(value), "
        f"sum(hash(release_id || cell || shown)) FROM {published_cells.TABLE}"
    )[0]
    key = (id(store), head, exclude, *size)
    if key not in _CACHE:
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = _earlier_tables(store, head, exclude)
    return _CACHE[key]


_CACHE: dict[tuple, list[Table]] = {}


def _earlier_tables(store: Store, head: str, exclude: str | None) -> list[Table]:
    from pupilshare.release import published_cells

    rows = store.arrow(
        f"SELECT release_id, table_name, cell, value, shown FROM "
        f"{published_cells.TABLE} WHERE starts_with(cell, ?) "
        "AND release_id IS DISTINCT FROM ? ORDER BY release_id, table_name",
        [head + ";", exclude],
    ).to_pylist()
    rows += store.arrow(
        f"SELECT release_id, table_name, cell, value, shown FROM "
        f"{published_cells.TABLE} WHERE cell = ? "
        "AND release_id IS DISTINCT FROM ? ORDER BY release_id, table_name",
        [head, exclude],
    ).to_pylist()
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["release_id"], r["table_name"]), []).append(r)
    out: list[Table] = []
    seen: set[tuple] = set()
    for (release, table), cells in groups.items():
        shown = {c["shown"] for c in cells}
        if not shown <= {"exact", "suppressed", "missing"}:
            continue
        key = tuple(sorted((c["cell"], c["value"], c["shown"]) for c in cells))
        if key in seen:
            continue
        seen.add(key)
        t = from_cells(
            f"{table} ({release})",
            [c["cell"] for c in cells],
            np.array([c["value"] for c in cells], dtype=float),
            np.array([c["shown"] == "suppressed" for c in cells]),
        )
        if t is not None:
            out.append(t)
    return out


@dataclass
class Joint:
    """The linked system over the suppressed cells of every table in it: ``a @ x =
    b``, ``x >= 0``; ``x0`` the true values; for each column, which table
    (0: the new one) and which flat cell of it."""

    a: sparse.csr_matrix
    b: np.ndarray
    x0: np.ndarray
    owner: np.ndarray
    cell: np.ndarray
    tables: list[Table]
    couplings: int
    # Each coupling row's published cells of the new table (flat indices), for the
    # builder's repair: which published cells an intruder's equation leans on.
    leans_on: list[np.ndarray]
    row_offset: int
    # How far each cell is certified to rise and fall by directions among the
    # tables' own suppressed cells that the whole system leaves free.
    rise: np.ndarray
    fall: np.ndarray
    # How many tables are new (owners 0 .. new - 1); the rest are earlier.
    new: int = 1
    # Which new table each coupling row's ``leans_on`` cells belong to (-1: none).
    leans_owner: np.ndarray | None = None

    def columns_of(self, k: int) -> np.ndarray:
        return np.flatnonzero(self.owner == k)


def _line_system(t: Table) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    from pupilshare.release import audit

    if t.values.ndim == 0:  # one cell: no lines
        n = int(t.hidden)
        return sparse.csr_matrix((0, n)), np.zeros(0), t.values.reshape(1)[:n]
    a, b, _ = audit.line_equations(t.values, t.hidden)
    return a, b, t.values[t.hidden]


def candidates(coarse: Table, fine: Table) -> np.ndarray:
    """Cells of ``coarse`` (flat) that ``fine`` could add up to, by their axes alone:
    a category of an item ``fine`` neither shows nor rolls up to never can (only
    that axis's Total), nor a Total of an item ``fine`` is restricted to."""
    if any(
        coarse.fixed.get(i) != v for i, v in fine.fixed.items() if i in coarse.fixed
    ):
        return np.zeros(0, np.int64)
    axes = []
    for d, lab in zip(coarse.dims, coarse.labels, strict=True):
        n = len(lab)
        if d in fine.fixed:
            want = fine.fixed[d]
            axes.append(np.array([i for i, v in enumerate(lab) if {v} == set(want)]))
        elif d in fine.dims or any(d in ancestors(f) for f in fine.dims):
            axes.append(np.arange(n + 1))
        else:
            axes.append(np.array([n]))
    missing = [i for i in fine.fixed if i not in coarse.fixed and i not in coarse.dims]
    if missing or any(len(a) == 0 for a in axes):
        return np.zeros(0, np.int64)
    if not axes:
        return np.zeros(1, np.int64)
    grids = np.meshgrid(*axes, indexing="ij")
    return np.ravel_multi_index(tuple(g.ravel() for g in grids), coarse.shape)


def _flat(where: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices of the cells ``where`` picks on each axis (a 0-d table: its one
    cell)."""
    if not where:
        return np.zeros(1, np.int64)
    grids = np.meshgrid(*where, indexing="ij")
    return np.ravel_multi_index(tuple(g.ravel() for g in grids), shape)


# One coupling equation ``coarse cell - sum(fine cells) = 0``, what is known moved to
# the right: the fine table's hidden cells in it (flat), the coarse cell (flat; -1
# when it is published), the right-hand side, and the published cells of the fine
# and of the coarse table it leans on (flat: for the builder's repair).
Row = tuple[np.ndarray, int, float, np.ndarray, np.ndarray]
_NONE = np.zeros(0, np.int64)


def _sums(fine: Table, coarse: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of ``coarse`` (flat) that ``fine``'s cells add up to, with which
    cells of ``fine`` each is (``indices[indptr[i]:indptr[i + 1]]``). It depends on
    the tables' categories alone, so it is worked out once however often their
    suppression changes."""
    key = (_structure(fine), _structure(coarse))
    if key in _SUMS:
        return _SUMS[key]
    flats, parts = [], []
    for flat in candidates(coarse, fine):
        where = fine.cells_for(coarse.conditions(int(flat)))
        if where is not None:
            flats.append(int(flat))
            parts.append(_flat(where, fine.shape).astype(np.int64))
    indptr = np.concatenate([[0], np.cumsum([len(p) for p in parts], dtype=np.int64)])
    indices = np.concatenate(parts) if parts else _NONE
    out = (np.array(flats, np.int64), indptr.astype(np.int64), indices)
    _SUMS.put(key, out)
    return out


def _couple(fine: Table, coarse: Table) -> list[Row]:
    """Rows ``coarse cell - sum(fine cells) = 0`` for every cell of ``coarse`` that
    ``fine``'s cells add up to, where the true values agree (the same records) and
    something in it is hidden."""
    key = (fingerprint(fine), fingerprint(coarse))
    if key in _COUPLE:
        return _COUPLE[key]
    flats, indptr, indices = _sums(fine, coarse)
    fv = np.asarray(fine.values, dtype=float).ravel()
    fh = np.asarray(fine.hidden, dtype=bool).ravel()
    s = sparse.csr_matrix(
        (np.ones(len(indices)), indices, indptr), shape=(len(flats), fv.size)
    )
    truth = s @ fv
    value = np.asarray(coarse.values, dtype=float).ravel()[flats]
    # Different records (a NaN compares as agreeing, as it always has).
    differ = np.abs(truth - value) > 1e-6 * np.maximum(1.0, np.abs(value))
    some_hidden = (s @ fh.astype(float)) > 0
    coarse_hidden = np.asarray(coarse.hidden, dtype=bool).ravel()[flats]
    shown = s @ np.where(fh, 0.0, fv)
    rows: list[Row] = []
    for i in np.flatnonzero(~differ & (some_hidden | coarse_hidden)):
        inside = indices[indptr[i] : indptr[i + 1]]
        hid = fh[inside]
        flat = int(flats[i])
        if coarse_hidden[i]:
            rows.append((inside[hid], flat, float(shown[i]), inside[~hid], _NONE))
        else:
            rhs = float(shown[i]) - float(value[i])
            rows.append((inside[hid], -1, rhs, inside[~hid], np.array([flat])))
    _COUPLE.put(key, rows)
    return rows


def _pair(t: Table, u: Table, kt: int, ku: int) -> list[tuple[int, int, Row]]:
    """Every coupling between two tables, both ways round, with which table is the
    fine one and which the coarse one of each row."""
    return [(kt, ku, r) for r in _couple(t, u)] + [(ku, kt, r) for r in _couple(u, t)]


def joint(new: Table | list[Table], earlier: list[Table]) -> Joint | None:
    """The new table(s) and every earlier table of the same dataset and measure that
    shares their records, as one system (None: nothing is coupled).

    The group is closed under coupling: an earlier table coupled only to another
    earlier table of the group joins it too, and every pair of tables in the group
    is coupled, not only pairs with a new table, so an intruder's equations that
    need three or more tables at once (a school table, an LA table and a national
    table, each published on its own) are all in the system.

    Only the linked groups (connected components) that a new table reaches are
    kept: a group of earlier cells that no equation of a new table touches has the
    same feasible intervals as before the new tables existed (the system splits
    into independent blocks), so whatever it shows was there already and is not
    the new tables' doing (``already_short``). This is what keeps a release's
    tenth table from re-auditing every suppressed cell of the nine before it."""
    news = [new] if isinstance(new, Table) else list(new)
    m = len(news)
    head = news[0].head
    pending = [t for t in earlier if t.head == head]
    digest = {id(t): _counts(t) for t in [*news, *pending]}
    tables = list(news)
    pairs: dict[tuple[int, int], list[tuple[int, int, Row]]] = {}
    frontier = list(range(m))
    for i in range(m):
        for k in range(i + 1, m):
            pairs[(i, k)] = _pair(tables[i], tables[k], i, k)
    while frontier:
        k = frontier.pop()
        rest = []
        for t in pending:
            rows = _pair(tables[k], t, k, len(tables))
            # Over the same records, even with nothing hidden between them: the
            # finest cells of a population that is no tree link them (``_exact``).
            if rows or _same_records(tables[k], t, digest):
                pairs[(k, len(tables))] = rows
                frontier.append(len(tables))
                tables.append(t)
            else:
                rest.append(t)
        pending = rest
    # The remaining pairs of the group (the closure found each table through one).
    for i in range(len(tables)):
        for k in range(max(i + 1, m), len(tables)):
            if (i, k) not in pairs:
                pairs[(i, k)] = _pair(tables[i], tables[k], i, k)
    blocks, rhs, owner, cell, x0, col_of = [], [], [], [], [], []
    base = 0
    for k, t in enumerate(tables):
        a, b, x = _line_system(t)
        flat = np.flatnonzero(t.hidden)
        col = np.full(max(t.hidden.size, 1), -1, np.int64)
        col[flat] = base + np.arange(len(flat))
        col_of.append(col)
        blocks.append(a)
        rhs.append(b)
        owner.append(np.full(len(flat), k))
        cell.append(flat)
        x0.append(x)
        base += len(flat)
    coupling = [r for rows in pairs.values() for r in rows]
    n = base
    exact = _exact(tables, col_of, n, digest)
    if not coupling and not exact:
        return None
    lines = sparse.block_diag(blocks, format="csr") if blocks else None
    r_i, c_i, v_i = [], [], []
    leans: list[np.ndarray] = []
    leans_owner: list[int] = []
    touches = np.zeros(len(coupling), bool)
    for i, (kf, kc, (hid, c, _, lean_f, lean_c)) in enumerate(coupling):
        cols = col_of[kf][hid]
        r_i.append(np.full(len(cols), i))
        c_i.append(cols)
        v_i.append(np.full(len(cols), -1.0))
        if c >= 0:
            r_i.append(np.array([i]))
            c_i.append(col_of[kc][[c]])
            v_i.append(np.array([1.0]))
        # A new table's published cells this equation leans on (the first's).
        leans.append(lean_f if kf < m else lean_c if kc < m else _NONE)
        leans_owner.append(kf if kf < m else kc if kc < m else -1)
        touches[i] = kf < m or kc < m
    cat = lambda p: np.concatenate(p) if p else _NONE  # noqa: E731
    coupled = sparse.csr_matrix(
        (cat(v_i).astype(float), (cat(r_i), cat(c_i))), shape=(len(coupling), n)
    )
    a = sparse.vstack([lines, coupled], format="csr")
    b = np.concatenate([*rhs, np.array([row[2] for _, _, row in coupling])])
    # A population whose tables are not a tree: its finest cells as unknowns too
    # (``finest``), one equation per cell of each of its tables.
    aux = sum(len(s.y0) for s in exact)
    if exact:
        a = sparse.bmat(
            [
                [a, None],
                [
                    sparse.vstack([s.x for s in exact]),
                    sparse.block_diag([s.y for s in exact]),
                ],
            ],
            format="csr",
        )
        b = np.concatenate([b, *(s.b for s in exact)])
        for s in exact:
            more, more_owner = _finest_leans(tables, s, m)
            leans += more
            leans_owner += more_owner
            touches = np.concatenate([touches, s.owner < m])
        owner.append(np.full(aux, -1))
        cell.append(np.concatenate([np.arange(len(s.y0)) for s in exact]))
        x0.append(np.concatenate([s.y0 for s in exact]))
    # Only the groups of cells an equation of a new table reaches: the rest are
    # each table's own business, audited when it was published (or by the table's
    # own audit), or the earlier tables' among themselves (see above).
    rows_n, n_lines = a.shape[0], lines.shape[0]
    link = sparse.csr_matrix(abs(a) > 0, dtype=np.int8)
    graph = sparse.bmat([[None, link], [link.T, None]], format="csr")
    _, label = connected_components(graph, directed=False)
    reached = np.isin(label, label[n_lines + np.flatnonzero(touches)])
    keep_rows, keep_cols = (
        np.flatnonzero(reached[:rows_n]),
        np.flatnonzero(reached[rows_n:]),
    )
    a = a[keep_rows][:, keep_cols].tocsr()
    kept_lines = int((keep_rows < n_lines).sum())
    x_all = np.concatenate(x0)
    rise, fall = _directions(
        a, x_all[keep_cols], tables, owner[: len(tables)], keep_cols, n + aux
    )
    # The finest cells need no protection of their own (``needs``, ``short``).
    rise[keep_cols >= n] = fall[keep_cols >= n] = np.inf
    return Joint(
        a,
        b[keep_rows],
        x_all[keep_cols],
        np.concatenate(owner)[keep_cols],
        np.concatenate(cell)[keep_cols],
        tables,
        len(coupling),
        [leans[i - n_lines] for i in keep_rows[kept_lines:]],
        kept_lines,
        rise,
        fall,
        m,
        np.array([leans_owner[i - n_lines] for i in keep_rows[kept_lines:]], int),
    )


def _counts(t: Table) -> bytes:
    """A digest of what a table counts and its true values (not what it hides)."""
    h = hashlib.blake2b(_structure(t), digest_size=20)
    h.update(np.ascontiguousarray(t.values, dtype=float).tobytes())
    return h.digest()


def _agrees(fine: Table, coarse: Table, digest: dict | None = None) -> bool | None:
    """Whether every cell of ``coarse`` that cells of ``fine`` add up to has their
    sum as its true value (None: there is no such cell). It does not change with
    what either hides, so it is worked out once per pair of tables (``digest``:
    each table's ``_counts`` by its id, worked out once per ``joint``)."""
    digest = digest if digest is not None else {}
    key = tuple(
        digest[id(t)] if id(t) in digest else _counts(t) for t in (fine, coarse)
    )
    if key not in _AGREE:
        _AGREE.put(key, _agreement(fine, coarse))
    return _AGREE[key]


def _agreement(fine: Table, coarse: Table) -> bool | None:
    flats, indptr, indices = _sums(fine, coarse)
    if not len(flats):
        return None
    fv = np.asarray(fine.values, dtype=float).ravel()
    s = sparse.csr_matrix(
        (np.ones(len(indices)), indices, indptr), shape=(len(flats), fv.size)
    )
    value = np.asarray(coarse.values, dtype=float).ravel()[flats]
    truth = s @ fv
    return bool((np.abs(truth - value) <= 1e-6 * np.maximum(1.0, np.abs(value))).all())


def _same_records(t: Table, u: Table, digest: dict | None = None) -> bool:
    """Some cell of one is a sum of the other's cells, and every such cell agrees
    (``populations``)."""
    ways = [_agrees(t, u, digest), _agrees(u, t, digest)]
    return False not in ways and True in ways


def populations(tables: list[Table], digest: dict | None = None) -> list[list[int]]:
    """The tables of a linked group by the records they count: two tables are
    over the same records when every cell one's cells add up to agrees (a table
    of one agreement's population and one of another's agree on some cells and
    not on others: only the agreeing cells are coupled, pair by pair)."""
    parent = list(range(len(tables)))

    def top(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(tables)):
        for k in range(i + 1, len(tables)):
            if _same_records(tables[i], tables[k], digest):
                parent[top(i)] = top(k)
    out: dict[int, list[int]] = {}
    for i in range(len(tables)):
        out.setdefault(top(i), []).append(i)
    return list(out.values())


def _exact(
    tables: list[Table], col_of: list[np.ndarray], n: int, digest: dict | None = None
) -> list:
    """The exact system (``finest.system``) of every population of the group
    whose tables are not a tree (``finest.problem``)."""
    from pupilshare.release import finest

    out = []
    for members in populations(tables, digest):
        mine = [tables[k] for k in members]
        if len(members) > 1 and finest.problem(mine, covers):
            out.append(finest.system(tables, members, col_of, n, covers))
    return out


def covers(fine: Table, coarse: Table) -> bool:
    """Every cell of ``coarse`` is a sum of cells of ``fine``."""
    return len(_sums(fine, coarse)[0]) == coarse.values.size


def _finest_leans(tables: list[Table], s, m: int) -> tuple[list, list]:
    """For each row of a population's exact system (``s``), the published cells
    of a new table the row's cell shares records with (another table's first:
    those give the intruder the equations; the row's own table last), for the
    builder's repair; a published cell's row leans on nothing."""
    leans: list[np.ndarray] = [_NONE] * len(s.owner)
    owners = [-1] * len(s.owner)
    news = [k for k in s.rows_of if k < m]
    for k, inc in s.rows_of.items():
        hidden = np.flatnonzero(np.asarray(tables[k].hidden, bool).ravel())
        if not len(hidden) or not news:
            continue
        at = np.flatnonzero(s.owner == k)[hidden]
        for mm in sorted(news, key=lambda j: j == k):
            shown = ~np.asarray(tables[mm].hidden, bool).ravel()
            overlap = (inc[hidden] @ s.rows_of[mm].T).tocsr()
            for r, row in zip(at, range(len(hidden)), strict=True):
                if owners[r] >= 0:
                    continue
                cells = overlap.indices[overlap.indptr[row] : overlap.indptr[row + 1]]
                cells = cells[shown[cells]]
                if len(cells):
                    leans[r], owners[r] = cells.astype(np.int64), mm
    return leans, owners


def short(j: Joint, need) -> np.ndarray:
    """``audit.audit`` of a linked system: which of its table cells lack their
    protection (a finest cell of an exact system is an unknown, never short)."""
    from pupilshare.release import audit

    out = audit.audit(j.a, j.b, j.x0, need, j.rise, j.fall)
    return out & (j.owner >= 0)


def already_short(
    j: Joint,
    short: np.ndarray,
    audit_need: Callable[[Joint], np.ndarray],
    key: tuple,
) -> np.ndarray:
    """Of the earlier tables' cells ``short`` in ``j``, those short without the new
    table(s) too (the earlier tables alone, linked to each other): an exposure the
    new table neither makes nor can repair, so it is not held against it.

    What the earlier tables alone leave short is worked out once per set of
    earlier tables (``key``: what ``audit_need`` asks of each cell), keyed by
    their fingerprints, so a changed earlier table is audited afresh."""
    out = np.zeros(len(short), bool)
    earlier_short = short & (j.owner >= j.new)
    if not earlier_short.any():
        return out
    olds = j.tables[j.new :]
    memo = (tuple(fingerprint(t) for t in olds), key)
    lost = _BEFORE.get(memo)
    if lost is None:
        before = joint(olds, [])
        lost = set()
        if before is not None:
            gone = audit_need(before)
            lost = {
                (int(k), int(c))
                for k, c in zip(before.owner[gone], before.cell[gone], strict=True)
            }
        _BEFORE.put(memo, lost)
    for i in np.flatnonzero(earlier_short):
        if (int(j.owner[i]) - j.new, int(j.cell[i])) in lost:
            out[i] = True
    return out


def _search(t: Table) -> tuple[np.ndarray, np.ndarray]:
    """``audit.search`` over one table's own suppressed cells, once per table."""
    from pupilshare.release import audit

    key = fingerprint(t)
    if key not in _SEARCH:
        _SEARCH.put(key, audit.search(t.values, t.hidden))
    return _SEARCH[key]


def _directions(
    a: sparse.csr_matrix,
    x0: np.ndarray,
    tables: list[Table],
    owner: list[np.ndarray],
    keep: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """How far each kept column (``keep``, of ``n``) is certified to move:
    hypercubes among each table's own suppressed cells (``audit.search``), kept only
    where the whole system, couplings included, leaves them free
    (``audit.witnessed``). A hypercube's cells share the table's lines, so they are
    kept or dropped together; one not kept is no direction here."""
    from pupilshare.release import audit

    at = np.full(n, -1, np.int64)
    at[keep] = np.arange(len(keep))
    rise, fall = np.zeros(len(x0)), np.zeros(len(x0))
    base = 0
    for t, own in zip(tables, owner, strict=True):
        corners, signs = _search(t)
        if len(corners):
            r, f = audit.witnessed(a, x0, at[corners + base], signs)
            rise, fall = np.maximum(rise, r), np.maximum(fall, f)
        base += len(own)
    return rise, fall


def needs(j: Joint, threshold: int, min_interval: float, counts: bool) -> tuple:
    """What each earlier table's suppressed cell must keep: a sensitive count (1 to
    threshold - 1) ``min_interval`` with room both ways, any other suppressed cell
    one unit (it must not be recovered). Returns (width, up, down) per column."""
    x = j.x0
    unit = 1.0 if counts else 0.01
    if counts:
        small = (x > 0) & (x < threshold)
        width = np.where(small, float(min_interval), unit)
        up = np.where(small, 1.0, 0.0)
        down = np.where(small, np.minimum(x, 1.0), 0.0)
    else:
        width, up, down = np.full(len(x), unit), np.zeros(len(x)), np.zeros(len(x))
    finest = j.owner < 0  # unknowns of an exact system: nothing to keep
    width[finest] = up[finest] = down[finest] = 0.0
    return width, up, down


def derivable(new: Table, earlier: list[Table]) -> np.ndarray:
    """Cells of ``new`` (flat) that an earlier table's published cells add up to
    exactly (over the same records): already public, so never a complement."""
    out = np.zeros(new.values.size, bool)
    for t in earlier:
        if t.head != new.head:
            continue
        shown_v = t.values.ravel()
        hid = t.hidden.ravel()
        for flat in candidates(new, t):
            flat = int(flat)
            if out[flat]:
                continue
            where = t.cells_for(new.conditions(flat))
            if where is None:
                continue
            inside = _flat(where, t.shape)
            value = float(new.values.ravel()[flat])
            total = float(shown_v[inside].sum())
            if not hid[inside].any() and abs(total - value) <= 1e-6 * max(1, value):
                out[flat] = True
    return out
