"""Two small queries the release area needs, safe under DuckDB 2's result rules."""

from __future__ import annotations

from pupilshare.store import Store


def scalar(store: Store, sql: str, params: list | None = None) -> object:
    """First value of a query, fetching everything (DuckDB 2 blocks the connection
    while a result is only partly fetched, as ``Store.one`` leaves it)."""
    rows = store.rows(sql, params)
    return rows[0][0] if rows else None


def has_table(store: Store, name: str) -> bool:
    return bool(scalar(store, "SELECT count(*) FROM information_schema.tables "
                       "WHERE table_name = ?", [name]))  # fmt: skip
