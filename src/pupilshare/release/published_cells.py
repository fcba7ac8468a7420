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

from pupilshare.plan import TableSpec
from pupilshare.store import Store

TOTAL = "Total"
TABLE = "published_cells"
DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (release_id VARCHAR NOT NULL, "
    "agreement_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, cell VARCHAR NOT "
    "NULL, value DOUBLE, shown VARCHAR NOT NULL)"
)


def cell_names(
    spec: TableSpec, dims: list[str], labels: list[np.ndarray]
) -> np.ndarray:
    """The name of each cell (one per row of ``labels``, ``Total`` where a margin)."""
    fixed = [f"{item}={values[0]}" for item, values in spec.filters if len(values) == 1]
    fixed += [
        f"{item} in {'|'.join(sorted(values))}"
        for item, values in spec.filters
        if len(values) > 1
    ]
    head = f"{spec.dataset}:{spec.measure or 'count'}"
    n = len(labels[0]) if labels else 0
    parts = [np.full(n, f, dtype=object) for f in fixed]
    for d, lab in zip(dims, labels, strict=True):
        lab = np.asarray(lab, dtype=object).astype(str)
        named = np.char.add(f"{d}=", lab)
        parts.append(np.where(lab == TOTAL, "", named).astype(object))
    if not parts:
        return np.full(n, head, dtype=object)
    stacked = np.stack(parts, axis=1)
    return np.array(
        [head + ";" + ";".join(sorted(p for p in row if p)) for row in stacked],
        dtype=object,
    )


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
                "cell": pa.array(cells.astype(str), pa.string()),
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
                "cell": pa.array(cells.astype(str)),
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
    shown = np.asarray(hits.column("shown").to_pylist(), dtype=object)
    public = np.zeros(n, bool)
    hidden = np.zeros(n, bool)
    public[row[shown == "exact"]] = True
    hidden[row[shown == "suppressed"]] = True
    return public, hidden, sorted(set(hits.column("release_id").to_pylist()))
