"""The record of every published table cell, kept in the store, so disclosure control
can see what earlier releases already gave away (issue 10 point 5).

A cell is named by what it counts, not by where it sits: its dataset, measure, and
every category it fixes (a table's single-valued filter is a category too; a
``Total`` fixes nothing). The national key stage 2 reading count is the same cell
whether it is a margin of a school table or a row of the trend statistics. With the
cell its true value is kept (the store holds every record already) and how it was
published: ``exact``, ``suppressed``, ``perturbed`` or ``rounded``.

Two cells of the same name with the same true value are taken to be over the same
records (populations of different agreements differ by scope and opt-outs; a
different value means a different set of records, which an intruder cannot
difference exactly). So a cell published exactly before is public: suppressing it
again protects nothing (the builder never uses it as a complement, the check treats
it as known), and a cell suppressed before must stay suppressed (the builder
suppresses it again, the check refuses a table that shows it).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pupilshare.plan import TableSpec
from pupilshare.store import Store

TOTAL = "Total"
TABLE = "published_cells"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (release_id VARCHAR NOT NULL, "
    "agreement_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, cell VARCHAR NOT "
    "NULL, value DOUBLE, shown VARCHAR NOT NULL)"
)


def cell_names(spec: TableSpec, dims: list[str], labels: list) -> pa.Array:
    """The name of each cell (one per row of ``labels``, ``Total`` where a margin),
    built in one pass of Arrow (no Python object per cell). A label column may be
    dictionary-encoded (a grid's categories and codes): its parts are then named
    once per category.

    The parts of a name are sorted: item names hold no ``=`` or space, so two parts
    order as their leading ``item=`` / ``item in`` do, the same for every row; each
    part carries its own leading ``;`` (a total's part is empty)."""
    fixed = [f"{item}={values[0]}" for item, values in spec.filters if len(values) == 1]
    fixed += [
        f"{item} in {'|'.join(sorted(values))}"
        for item, values in spec.filters
        if len(values) > 1
    ]
    n = len(labels[0]) if labels else 0
    parts: list[tuple[str, pa.Array | pa.Scalar]] = [
        (f, pa.scalar(";" + f, pa.string())) for f in fixed
    ]
    every_total = pa.repeat(pa.scalar(not fixed), n)
    for d, lab in zip(dims, labels, strict=True):
        text = _text(lab)
        parts.append((f"{d}=", _named(d, text)))
        every_total = pc.and_(every_total, pc.equal(text, TOTAL))
    parts.sort(key=lambda p: p[0])
    trailer = pc.if_else(every_total, ";", "")  # a name of no parts ends "head;"
    return pc.binary_join_element_wise(
        pa.scalar(head(spec)[:-1]), *[p for _, p in parts], trailer, ""
    )


def _text(lab: object) -> pa.Array:
    if isinstance(lab, pa.ChunkedArray):
        lab = lab.combine_chunks()
    if isinstance(lab, pa.Array):
        if pa.types.is_dictionary(lab.type):
            return pa.DictionaryArray.from_arrays(
                lab.indices, pc.cast(lab.dictionary, pa.string())
            )
        return pc.cast(lab, pa.string())
    return pa.array([str(x) for x in np.asarray(lab, dtype=object)], pa.string())


def _named(d: str, lab: pa.Array) -> pa.Array:
    """``;d=label``, empty for a total."""
    if pa.types.is_dictionary(lab.type):
        return pc.take(_named(d, lab.dictionary), lab.indices)
    named = pc.binary_join_element_wise(pa.scalar(f";{d}="), lab, "")
    return pc.if_else(pc.equal(lab, TOTAL), "", named)


def record(
    store: Store,
    release_id: str,
    agreement_id: str,
    name: str,
    cells: np.ndarray,
    values: np.ndarray,
    shown: np.ndarray,
) -> None:
    """Add one delivered table's cells (true values and how each was shown)."""
    store.rows(DDL)
    store.register(
        "_published",
        pa.table(
            {
                "release_id": pa.array([release_id] * len(cells), pa.string()),
                "agreement_id": pa.array([agreement_id] * len(cells), pa.string()),
                "table_name": pa.array([name] * len(cells), pa.string()),
                "cell": _text(cells),
                "value": pa.array(values.astype(float)),
                "shown": pa.array(shown.astype(str), pa.string()),
            }
        ),
    )
    try:
        store.rows(f"INSERT INTO {TABLE} SELECT * FROM _published")
    finally:
        store.unregister("_published")


def forget(store: Store, release_id: str) -> None:
    """Drop a release's cells (its delivery failed)."""
    if store.exists(TABLE):
        store.rows(f"DELETE FROM {TABLE} WHERE release_id = ?", [release_id])


def head(spec: TableSpec) -> str:
    """What every cell name of ``spec`` starts with (its dataset and measure)."""
    return f"{spec.dataset}:{spec.measure or 'count'};"


def any_earlier(store: Store, spec: TableSpec, exclude: str | None = None) -> bool:
    """Whether any release (but ``exclude``) recorded a cell of this dataset and
    measure: when none did, no cell of ``spec`` need be named to look it up (a
    national table's millions of names are made only for the record)."""
    if not store.exists(TABLE):
        return False
    return bool(
        store.rows(
            f"SELECT 1 FROM {TABLE} WHERE starts_with(cell, ?) "
            "AND release_id IS DISTINCT FROM ? LIMIT 1",
            [head(spec), exclude],
        )
    )


def earlier(
    store: Store,
    cells: np.ndarray,
    values: np.ndarray,
    exclude: str | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """For each cell: whether an earlier release showed it exactly with the same
    value, whether one suppressed it (same value), and the releases involved."""
    n = len(cells)
    if n == 0 or not store.exists(TABLE):
        return np.zeros(n, bool), np.zeros(n, bool), []
    store.register(
        "_asked",
        pa.table(
            {
                "row_no": pa.array(np.arange(n)),
                "cell": _text(cells),
                "value": pa.array(values.astype(float)),
            }
        ),
    )
    try:
        hits = store.arrow(
            f"SELECT a.row_no, p.shown, p.release_id FROM _asked a JOIN {TABLE} p "
            "ON p.cell = a.cell AND abs(p.value - a.value) < 1e-6 "
            "WHERE p.release_id IS DISTINCT FROM ?",
            [exclude],
        )
    finally:
        store.unregister("_asked")
    row = hits.column("row_no").to_numpy().astype(np.int64)
    shown = hits.column("shown")
    public = np.zeros(n, bool)
    hidden = np.zeros(n, bool)
    public[row[_is(shown, "exact")]] = True
    hidden[row[_is(shown, "suppressed")]] = True
    releases = pc.unique(hits.column("release_id")).to_pylist()
    return public, hidden, sorted(releases)


def _is(col: pa.ChunkedArray, value: str) -> np.ndarray:
    return pc.fill_null(pc.equal(col, value), False).to_numpy(zero_copy_only=False)
