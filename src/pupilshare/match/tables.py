"""The pupil index tables and the matching area's own tables, created once.

The shared tables (``pupils``, ``pupil_identifiers``, ``pupil_links``) follow the
contract in DEVELOPERS.md; the rest (runs, review queue, unusable records, ULN issue)
belong to matching alone.
"""

from __future__ import annotations

import pyarrow as pa

from pupilshare.store import Store

DDL = [
    """CREATE TABLE IF NOT EXISTS pupils (
        pupil_key BIGINT PRIMARY KEY, upn VARCHAR, uln VARCHAR, forename VARCHAR,
        surname VARCHAR, date_of_birth DATE, sex VARCHAR, postcode VARCHAR,
        created_run BIGINT)""",
    """CREATE TABLE IF NOT EXISTS pupil_identifiers (
        pupil_key BIGINT, kind VARCHAR, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS pupil_links (
        dataset VARCHAR, collection_id BIGINT, line BIGINT, pupil_key BIGINT,
        method VARCHAR, match_probability DOUBLE, match_run BIGINT)""",
    # person fields as each run saw them, per pupil (valid UPNs only): the index's
    # history, and what the model retrains on
    """CREATE TABLE IF NOT EXISTS pupil_history (
        pupil_key BIGINT, upn VARCHAR, former_upn VARCHAR, forename VARCHAR,
        surname VARCHAR, former_surname VARCHAR,
        date_of_birth DATE, sex VARCHAR, postcode VARCHAR, first_seen DATE,
        last_seen DATE,
        records BIGINT, match_run BIGINT)""",
    """CREATE TABLE IF NOT EXISTS match_runs (
        match_run BIGINT PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        records BIGINT, exact BIGINT, probabilistic BIGINT, new_pupils BIGINT,
        review BIGINT, unusable BIGINT, ulns_issued BIGINT, retrained BOOLEAN,
        upper_threshold DOUBLE, lower_threshold DOUBLE, seconds DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS match_review (
        review_id BIGINT PRIMARY KEY, match_run BIGINT, profile_id UBIGINT,
        pupil_key BIGINT, candidate_key BIGINT, match_probability DOUBLE,
        match_weight DOUBLE, explanation VARCHAR, status VARCHAR,
        decided_by VARCHAR, decided_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS match_unusable (
        dataset VARCHAR, collection_id BIGINT, line BIGINT, reason VARCHAR,
        match_run BIGINT)""",
    """CREATE TABLE IF NOT EXISTS uln_issued (
        uln VARCHAR PRIMARY KEY, pupil_key BIGINT, match_run BIGINT,
        reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS uln_state (next_stem BIGINT)""",
]


def ensure_tables(store: Store) -> None:
    """Create every table matching reads or writes, if missing."""
    for sql in DDL:
        store.execute(sql)


def one(store: Store, sql: str, params: list | None = None) -> object:
    """The first column of the first row, or None, fetching the whole result.

    ``Store.one`` fetches one row and leaves the result open, which DuckDB 2 refuses
    before the next ``register`` on the connection; fetching all rows closes it.
    """
    rows = store.rows(sql, params)
    return rows[0][0] if rows else None


def arrow(store: Store, sql: str) -> pa.Table:
    """A query's result as Arrow, without the extra copy (and warning) that
    ``Store.arrow`` makes through a DB-API result in DuckDB 2."""
    return store.con.sql(sql).to_arrow_table()
