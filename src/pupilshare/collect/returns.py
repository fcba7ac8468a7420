"""Corrected returns: a return is identified by its source and period, and sending
it again replaces the earlier one as a new version.

The catalogue names each dataset's ``return_key`` (census: school and census day).
When a collection loads, every row gets its key; rows of an earlier collection with
a key the new one carries move, in the same transaction, from ``ds_<dataset>`` (the
current data, which matching and releases read) to ``history_<dataset>``, and the
``returns`` table notes which version replaced them. A withdrawn return moves the
same way, with the reason. So the current tables never hold two versions of one
return, nothing is deleted, and a release's ``release_sources`` still names the
versions it was built from after they are replaced.

Why rows, not files, are keyed: a partner may send several schools or LAs in one
file, and a correction may cover only some of them; each key is replaced on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pupilshare import catalogue
from pupilshare.catalogue import Dataset
from pupilshare.collect.rules import ident, lit
from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.store import Store

RETURNS_DDL = (
    "CREATE TABLE IF NOT EXISTS returns (dataset VARCHAR NOT NULL, "
    "return_key VARCHAR NOT NULL, collection_id INTEGER NOT NULL, "
    "rows BIGINT NOT NULL, status VARCHAR NOT NULL, replaced_by INTEGER, "
    "changed_at TIMESTAMP, reason VARCHAR)"
)
NEW_KEYS = "collect_new_keys"


def history_table(ds: Dataset) -> str:
    return f"history_{ds.name}"


def key_sql(ds: Dataset, alias: str = "") -> str:
    """The return key of a row of ``ds_<dataset>`` as text, e.g.
    ``laestab=8012345|census_date=2024-10-03``; a dataset without a key gives each
    collection its own."""
    pre = f"{alias}." if alias else ""
    if not ds.return_key:
        return f"'collection ' || CAST({pre}collection_id AS VARCHAR)"
    parts = []
    for part in ds.return_key:
        fn, name = catalogue.key_part(part)
        col = pre + ident(name)
        expr = {
            None: f"CAST({col} AS VARCHAR)",
            "la": f"substr(CAST({col} AS VARCHAR), 1, 3)",
            "year": f"CAST(year({col}) AS VARCHAR)",
            "academic_year": f"CAST(year({col}) - CASE WHEN month({col}) < 9 "
            "THEN 1 ELSE 0 END AS VARCHAR)",
        }[fn]
        parts.append(f"{lit(part + '=')} || coalesce({expr}, '')")
    return " || '|' || ".join(parts)


def ensure_tables(store: Store, ds: Dataset) -> None:
    """``returns`` and the dataset's history table (same columns as its table)."""
    store.execute(RETURNS_DDL)
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {history_table(ds)} AS "
        f"SELECT * FROM {ident(ds.table)} LIMIT 0"
    )


def supersede(store: Store, ds: Dataset, collection_id: int, received: datetime) -> int:
    """Inside the load's transaction: note collection ``collection_id``'s returns
    and move the rows of earlier versions of them to history; returns how many
    earlier rows were replaced."""
    ensure_tables(store, ds)
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE {NEW_KEYS} AS SELECT {key_sql(ds)} AS "
        f"return_key, count(*) AS n FROM {ident(ds.table)} WHERE collection_id = ? "
        "GROUP BY 1",
        [collection_id],
    )
    old = (
        "SELECT collection_id, return_key FROM returns WHERE dataset = "
        f"{lit(ds.name)} AND status = 'current' AND return_key IN "
        f"(SELECT return_key FROM {NEW_KEYS})"
    )
    moved = _move_to_history(store, ds, old)
    store.execute(
        "UPDATE returns SET status = 'replaced', replaced_by = ?, changed_at = ? "
        f"WHERE dataset = ? AND status = 'current' AND return_key IN "
        f"(SELECT return_key FROM {NEW_KEYS})",
        [collection_id, received, ds.name],
    )
    store.execute(
        f"INSERT INTO returns SELECT ?, return_key, ?, n, 'current', NULL, ?, NULL "
        f"FROM {NEW_KEYS}",
        [ds.name, collection_id, received],
    )
    store.execute(f"DROP TABLE {NEW_KEYS}")
    return moved


def _move_to_history(store: Store, ds: Dataset, versions_sql: str) -> int:
    """Move the current rows of ``(collection_id, return_key)`` pairs to history.

    The pairs are few (read first); the table is read only in their collections'
    row groups (``collection_id IN (...)``, which DuckDB's zone maps prune)."""
    pairs = store.rows(versions_sql)
    if not pairs:
        return 0
    cids = ", ".join(str(int(c)) for c in sorted({c for c, _ in pairs}))
    keys = ", ".join(f"({int(c)}, {lit(k)})" for c, k in pairs)
    table, key = ident(ds.table), key_sql(ds, "d")
    pick = (
        f"FROM {table} d WHERE d.collection_id IN ({cids}) AND "
        f"(d.collection_id, {key}) IN (SELECT (c, k) FROM (VALUES {keys}) v(c, k))"
    )
    n = int(store.one(f"SELECT count(*) {pick}") or 0)
    if n:
        store.execute(f"INSERT INTO {history_table(ds)} SELECT d.* {pick}")
        store.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT d.rowid {pick})")
    return n


@dataclass(frozen=True)
class Withdrawal:
    collection_id: int
    dataset: str
    file_name: str
    rows: int
    returns: int


def withdraw(store: Store, collection_id: int, reason: str) -> Withdrawal:
    """Withdraw collection ``collection_id``'s current returns with a reason: their
    rows leave the current data for history. Earlier versions are not brought
    back (a school sends a corrected return to restore data)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a withdrawal needs a reason: --reason TEXT")
    if not store.exists("collections"):
        raise NotFound(f"no collection {collection_id}: nothing is collected yet")
    found = store.rows(
        "SELECT dataset, file_name FROM collections WHERE collection_id = ?",
        [collection_id],
    )
    if not found:
        raise NotFound(f"no collection {collection_id}: see `pupilshare status`")
    name, file_name = found[0]
    ds = catalogue.dataset(name)
    with store.transaction():
        ensure_tables(store, ds)
        states = dict(
            store.rows(
                "SELECT status, count(*) FROM returns WHERE collection_id = ? "
                "GROUP BY 1",
                [collection_id],
            )
        )
        if not states.get("current"):
            if not states and store.exists(ds.table):  # loaded before versioning
                _note_legacy(store, ds, collection_id)
            else:
                why = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                raise Conflict(
                    f"collection {collection_id} ({file_name}) has no current "
                    f"return to withdraw ({why or 'none'})"
                )
        rows = _move_to_history(
            store,
            ds,
            "SELECT collection_id, return_key FROM returns WHERE status = 'current' "
            f"AND collection_id = {int(collection_id)}",
        )
        n = int(
            store.one(
                "SELECT count(*) FROM returns WHERE collection_id = ? AND "
                "status = 'current'",
                [collection_id],
            )
        )
        store.execute(
            "UPDATE returns SET status = 'withdrawn', changed_at = ?, reason = ? "
            "WHERE collection_id = ? AND status = 'current'",
            [datetime.now(UTC).replace(tzinfo=None), reason, collection_id],
        )
    return Withdrawal(collection_id, ds.name, file_name, rows, n)


def _note_legacy(store: Store, ds: Dataset, collection_id: int) -> None:
    """A collection loaded before returns were versioned: note its returns now."""
    store.execute(
        f"INSERT INTO returns SELECT {lit(ds.name)}, {key_sql(ds)}, collection_id, "
        f"count(*), 'current', NULL, NULL, NULL FROM {ident(ds.table)} "
        "WHERE collection_id = ? GROUP BY 2, 3",
        [collection_id],
    )
