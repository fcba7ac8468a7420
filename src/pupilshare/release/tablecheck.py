"""The output check's protection audit of one suppressed table, with the earlier
releases over the same records (issue 10 point 5, issue 17 point 1).

Shares no logic with the builder. From the published file and the true values the
check recomputed itself, it works out which cells are sensitive (its own rules), what
each must keep (``audit.Need``), which cells earlier releases already published
(``published``: those are known, not protected), and then audits the feasible
interval of every suppressed cell: directions the builder offers (its hypercubes) are
verified against the check's own equations and count only as far as the true values
allow; for cells they leave short the check searches directions among the suppressed
cells itself (``audit.search``); every cell still not certified is solved exactly by
linear programming.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release import audit, finest, linked, published_cells
from pupilshare.store import Store

TOTAL = "Total"


@dataclass(frozen=True)
class Witness:
    """The builder's offered directions for one table: its categories per dimension
    (``Total`` last), and for each direction its cells (flat indices in that grid)
    and how each moves."""

    labels: tuple[tuple[str, ...], ...]
    corners: np.ndarray
    signs: np.ndarray


def grid_codes(
    table: pa.Table, dims: list[str]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each row's code on every dimension (the sorted categories, ``Total`` after
    them), in Arrow."""
    codes, cats = [], []
    for d in dims:
        labels = pc.fill_null(pc.cast(table.column(d), pa.string()), "None")
        c = pc.unique(pc.filter(labels, pc.not_equal(labels, TOTAL)))
        c = pc.take(c, pc.sort_indices(c))
        at = pc.fill_null(pc.index_in(labels, value_set=c), len(c))
        codes.append(at.to_numpy(zero_copy_only=False).astype(np.int64))
        cats.append(np.asarray(c.to_pylist(), dtype=object).astype(str))
    return codes, cats


def needs(
    plan: ReleasePlan, spec: TableSpec, truth: dict[str, np.ndarray]
) -> audit.Need:
    """What every cell must keep if suppressed, by the check's own reading of the
    rules: sensitive counts (1 to threshold - 1 pupils) an interval of
    ``min_interval`` with room both ways; sensitive sums (too few contributors,
    dominance, p% rule) ``p_ratio`` of the value either side; any other cell an
    interval of one unit (not recoverable)."""
    rules = plan.sdc
    x, n = truth["value"], truth["n"]
    if spec.measure is None:
        sensitive = (n > 0) & (n < rules.threshold)
        width = np.where(sensitive, float(rules.min_interval), 1.0)
        return audit.Need(
            width,
            np.where(sensitive, 1.0, 0.0),
            np.where(sensitive, np.minimum(x, 1.0), 0.0),
        )
    first, second = truth["top1"], truth["top2"]
    positive = x > 0
    sensitive = (
        ((n > 0) & (n < rules.threshold))
        | (positive & (truth["top_n"] >= rules.dominance_k * x))
        | (positive & (x - first - second < rules.p_ratio * first))
    )
    up = np.where(sensitive, np.maximum(rules.p_ratio * np.abs(x), 0.01), 0.0)
    down = np.minimum(np.abs(x), up)
    return audit.Need(np.maximum(up + down, 0.01), up, down)


def protection_reasons(
    store: Store,
    plan: ReleasePlan,
    spec: TableSpec,
    table: pa.Table,
    truth: dict[str, np.ndarray],
    suppressed: np.ndarray,
    witness: Witness | None = None,
    linked_into: list | None = None,
) -> list[str]:
    """Reasons the table's suppression does not protect (empty: it does).
    ``linked_into``: a release's list of its tables, for one linked audit of all of
    them with the earlier releases (``release_linked_reasons``); without it the
    table is audited with the earlier releases here."""
    name = spec.name
    dims = [*spec.rows, *spec.columns]
    x = truth["value"]
    public = hidden = np.zeros(len(x), bool)
    if published_cells.any_earlier(store, spec):
        labels = [table.column(d) for d in dims]
        cells = published_cells.cell_names(spec, dims, labels)
        public, hidden, _ = published_cells.earlier(store, cells, x)
    reasons = []
    shown_hidden = ~suppressed & hidden
    if shown_hidden.any():
        reasons.append(
            f"{name}: {int(shown_hidden.sum())} cell(s) shown that an "
            "earlier release over the same records suppressed"
        )
    known = suppressed & public
    if known.any():
        reasons.append(
            f"{name}: {int(known.sum())} suppressed cell(s) already "
            "published by an earlier release of the same records"
        )
    hide = suppressed & ~public
    if not hide.any() and linked_into is None:
        if not published_cells.any_earlier(store, spec):
            return reasons
    codes, cats = grid_codes(table, dims)
    shape = tuple(len(c) + 1 for c in cats)
    if int(np.prod(shape)) != len(x):
        if not hide.any():
            return reasons  # nothing suppressed: nothing to audit
        return [
            *reasons,
            f"{name}: not a complete table; its suppression cannot be audited",
        ]
    grid_v = np.zeros(shape)
    grid_m = np.zeros(shape, bool)
    grid_v[tuple(codes)] = x
    grid_m[tuple(codes)] = hide
    flat_row = np.zeros(len(x), np.int64)
    flat_row[np.ravel_multi_index(tuple(codes), shape)] = np.arange(len(x))
    need = needs(plan, spec, truth)
    rows = flat_row[np.flatnonzero(grid_m)]  # table row of each audited cell
    need = need.part(rows)
    new = linked.Table(
        name,
        f"{spec.dataset}:{spec.measure or 'count'}",
        {item: frozenset(map(str, vals)) for item, vals in spec.filters},
        tuple(dims),
        tuple(tuple(str(c) for c in cat) for cat in cats),
        grid_v,
        grid_m,
    )
    if not hide.any():
        # Nothing of its own to protect, but its published cells may still give
        # away an earlier table's (or another of this release's) suppressed cells.
        if linked_into is not None:
            linked_into.append((spec, new, need))
            return reasons
        return reasons + linked_reasons(store, plan, spec, new, need)
    a, b, x0 = audit.line_equations(grid_v, grid_m)
    rise = fall = None
    if x0 is not None:
        rise, fall = np.zeros(len(x0)), np.zeros(len(x0))
        corners = _columns(witness, cats, grid_m) if witness is not None else None
        if corners is not None:
            rise, fall = audit.witnessed(a, x0, corners, witness.signs)
        # Cells the offers leave short: directions this audit finds for itself.
        short = ~need.met(x0, x0 - fall, x0 + rise)
        if short.any():
            found, signs = audit.search(grid_v, grid_m, np.flatnonzero(grid_m)[short])
            more_rise, more_fall = audit.witnessed(a, x0, found, signs)
            rise, fall = np.maximum(rise, more_rise), np.maximum(fall, more_fall)
    short = audit.audit(a, b, x0, need, rise, fall)
    if short.any():
        reasons.append(
            f"{name}: {int(short.sum())} suppressed cell(s) can be "
            "recovered, or narrowed below their protection interval, from "
            "the rows, columns or totals"
        )
        return reasons
    if linked_into is not None:
        linked_into.append((spec, new, need))
        return reasons
    if not published_cells.any_earlier(store, spec):
        return reasons
    return reasons + linked_reasons(store, plan, spec, new, need)


def linked_reasons(
    store: Store,
    plan: ReleasePlan,
    spec: TableSpec,
    new: linked.Table,
    need: audit.Need,
) -> list[str]:
    """The table audited together with every earlier table over the same records
    that its cells add up to, or that adds up to its cells, through the hierarchies
    (school to LA to nation, outcome to reached the expected standard, year group to
    key stage), and every earlier table linked to those: the new table's suppressed
    cells must keep their protection, and no earlier table's suppressed cell may be
    recovered through it."""
    return release_linked_reasons(store, plan, [(spec, new, need)])


def release_linked_reasons(
    store: Store,
    plan: ReleasePlan,
    tables: list[tuple[TableSpec, linked.Table, audit.Need]],
) -> list[str]:
    """A release's tables audited together, with each other (a school table and an
    LA table of one release are linked through the hierarchy as much as two
    releases are) and with every earlier published table over the same records:
    one linked system per dataset and measure."""
    out: list[str] = []
    heads: dict[str, list[tuple[TableSpec, linked.Table, audit.Need]]] = {}
    for entry in tables:
        heads.setdefault(entry[1].head, []).append(entry)
    for head, group in heads.items():
        earlier = (
            linked.earlier_tables(store, head)
            if any(published_cells.any_earlier(store, spec) for spec, _, _ in group)
            else []
        )
        if len(group) < 2 and not earlier:
            continue
        out += _linked_group(plan, group, earlier)
    return out


def _linked_group(
    plan: ReleasePlan,
    group: list[tuple[TableSpec, linked.Table, audit.Need]],
    earlier: list[linked.Table],
) -> list[str]:
    """The linked audit of one dataset and measure's tables; tables whose finest
    common cells are too many to audit exactly (a cycle, ``finest``) refuse."""
    try:
        return _linked_audit(plan, group, earlier)
    except finest.Unauditable as e:
        return [e.message]


def _linked_audit(
    plan: ReleasePlan,
    group: list[tuple[TableSpec, linked.Table, audit.Need]],
    earlier: list[linked.Table],
) -> list[str]:
    j = linked.joint([t for _, t, _ in group], earlier)
    if j is None:
        return []
    rules = plan.sdc
    counts = group[0][0].measure is None
    width, up, down = linked.needs(j, rules.threshold, rules.min_interval, counts)
    for k, (_, new, need) in enumerate(group):
        mine = j.owner == k
        at = np.searchsorted(np.flatnonzero(new.hidden), j.cell[mine])
        width[mine], up[mine], down[mine] = need.width[at], need.up[at], need.down[at]
    short = linked.short(j, audit.Need(width, up, down))

    def earlier_short(jj: linked.Joint) -> np.ndarray:
        w, u, d = linked.needs(jj, rules.threshold, rules.min_interval, counts)
        return linked.short(jj, audit.Need(w, u, d))

    key = (rules.threshold, rules.min_interval, counts)
    short &= ~linked.already_short(j, short, earlier_short, key)
    out = []
    others = ", ".join(t.name for t in j.tables[j.new :]) or "none"
    for k, (spec, _, _) in enumerate(group):
        own = short & (j.owner == k)
        if own.any():
            mates = [t.name for t in j.tables[: j.new] if t.name != spec.name]
            out.append(
                f"{spec.name}: {int(own.sum())} suppressed cell(s) can be "
                "recovered, or narrowed below their protection interval, by "
                "combining it with earlier published tables over the same records "
                f"({others})"
                + (f" and this release's {', '.join(mates)}" if mates else "")
            )
    if (short & (j.owner >= j.new)).any():
        names = ", ".join(spec.name for spec, _, _ in group)
        out.append(
            f"{names}: would let {int((short & (j.owner >= j.new)).sum())} "
            f"suppressed cell(s) of earlier published tables ({others}) be "
            "recovered, or narrowed below their protection interval"
        )
    return out


def _columns(
    witness: Witness, cats: list[np.ndarray], grid_m: np.ndarray
) -> np.ndarray | None:
    """The builder's corners as columns of the audit's system (-1: not suppressed
    here); None when its categories are not this table's."""
    if len(witness.labels) != len(cats):
        return None
    maps = []
    for labels, c in zip(witness.labels, cats, strict=True):
        lab = np.asarray(labels, dtype=object).astype(str)
        if len(lab) != len(c) or not (np.sort(lab) == c).all():
            return None
        maps.append(np.append(np.searchsorted(c, lab), len(c)))
    shape_b = tuple(len(lab) + 1 for lab in witness.labels)
    at = np.unravel_index(witness.corners.ravel(), shape_b)
    mine = np.ravel_multi_index(
        tuple(m[i] for m, i in zip(maps, at, strict=True)), grid_m.shape
    )
    column = np.full(grid_m.size, -1, np.int64)
    column[np.flatnonzero(grid_m)] = np.arange(int(grid_m.sum()))
    return column[mine].reshape(witness.corners.shape)


def perturbation_reasons(
    store: Store, plan: ReleasePlan, spec: TableSpec, table: pa.Table, source: str
) -> list[str]:
    """A perturbed count table: every published value must be the true count plus
    the perturbation table's change for its cell key, recomputed here (true counts
    and cell keys by this check's own SQL: distinct pupils per finest cell, margins
    their sums, by CUBE), and no count
    from 1 to threshold - 1 may show. The record keys are the registered
    ``cellkey.RECORD_KEYS`` (a fact, like the catalogue)."""
    from pupilshare.release import cellkey

    name, rules = spec.name, plan.sdc
    if not store.exists(cellkey.RECORD_KEYS):
        return [f"{name}: perturbed, but the record keys are not available"]
    dims = [*spec.rows, *spec.columns]
    cond = (
        " AND ".join(
            f"CAST({item} AS VARCHAR) IN ({', '.join(_lit(v) for v in vals)})"
            for item, vals in spec.filters
        )
        or "TRUE"
    )
    unknown = _lit("Unknown")
    cats = ", ".join(f"coalesce(CAST({d} AS VARCHAR), {unknown}) AS {d}" for d in dims)
    base = (
        f"SELECT DISTINCT {cats}, s.__pupil_key AS pk, k.rk FROM {source} s "
        f"JOIN {cellkey.RECORD_KEYS} k ON k.pupil_key = s.__pupil_key "
        f"WHERE {cond}"
    )
    finest = (
        f"SELECT {', '.join(dims)}, count(*) AS n, sum(rk) AS keysum FROM "
        f"({base}) GROUP BY ALL"
    )
    labels = ", ".join(f"coalesce({d}, {_lit(TOTAL)}) AS {d}" for d in dims)
    sql = (
        f"SELECT {labels}, CAST(sum(n) AS BIGINT) AS n, "
        f"CAST(sum(keysum) AS BIGINT) AS keysum FROM ({finest}) "
        f"GROUP BY CUBE({', '.join(dims)})"
    )
    published = table.select(dims).append_column(
        "row_no", pa.array(np.arange(table.num_rows))
    )
    store.register("_check_perturbed", published)
    try:
        on = " AND ".join(f"t.{d} = p.{d}" for d in dims)
        truth = store.arrow(
            "SELECT CAST(coalesce(t.n, 0) AS BIGINT) AS n, "
            "CAST(coalesce(t.keysum, 0) AS BIGINT) AS keysum "
            f", p.row_no FROM _check_perturbed p LEFT JOIN ({sql}) t ON {on}"
        )
    finally:
        store.unregister("_check_perturbed")
    at = truth.column("row_no").to_numpy()  # back to the table's order (no sort)
    n = np.zeros(table.num_rows, np.int64)
    keysum = np.zeros(table.num_rows, np.int64)
    n[at] = truth.column("n").to_numpy()
    keysum[at] = truth.column("keysum").to_numpy()
    changes = cellkey.ptable(rules.ptable_max, rules.ptable_variance)
    expect = n + changes[np.minimum(n, len(changes) - 1), keysum % cellkey.KEYS]
    symbol = pc.cast(table.column("symbol"), pa.string())

    def marked(mark: str) -> np.ndarray:
        return pc.fill_null(pc.equal(symbol, mark), False).to_numpy(
            zero_copy_only=False
        )

    value_col = table.column("value")
    hidden = pc.is_null(value_col).to_numpy(zero_copy_only=False)
    value = pc.fill_null(pc.cast(value_col, pa.float64()), np.nan).to_numpy(
        zero_copy_only=False
    )
    counted = ~marked("x")
    withheld_ok = marked("c") & (expect > 0) & (expect < rules.threshold)
    wrong = int((counted & np.where(hidden, ~withheld_ok, value != expect)).sum())
    shown_small = (value == expect) & (value > 0) & (value < rules.threshold)
    small = int((counted & ~hidden & shown_small).sum())
    out = []
    if wrong:
        out.append(f"{name}: {wrong} cell(s) differ from their cell-key perturbation")
    if small:
        out.append(f"{name}: {small} perturbed count(s) under the threshold shown")
    return out


def _lit(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"
