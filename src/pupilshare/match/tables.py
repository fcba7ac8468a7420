"""The pupil index tables and the matching area's own tables, created once.

The shared tables (``pupils``, ``pupil_identifiers``, ``pupil_links``) follow the
contract in DEVELOPERS.md; the rest (runs, review queue, unusable records, ULN issue)
belong to matching alone.
"""

from __future__ import annotations

import duckdb

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
    # a pupil merged into another, by clerical review (review_id) or by a match
    # run's exact evidence (match_run): the retired key and the key that replaced it
    # (opt-outs and release records are moved too)
    """CREATE TABLE IF NOT EXISTS pupil_merges (
        retired_key BIGINT, pupil_key BIGINT, review_id BIGINT, merged_at TIMESTAMP,
        match_run BIGINT)""",
    # stores made before these columns existed
    "ALTER TABLE pupil_merges ADD COLUMN IF NOT EXISTS match_run BIGINT",
    "ALTER TABLE match_runs ADD COLUMN IF NOT EXISTS merged BIGINT",
]


def ensure_tables(store: Store) -> None:
    """Create every table matching reads or writes, if missing. A read-only store
    (the web service reads it so) refuses any DDL: it is read as it is."""
    for sql in DDL:
        try:
            store.execute(sql)
        except duckdb.InvalidInputException as e:
            if "read-only" not in str(e):
                raise
