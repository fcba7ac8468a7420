"""Merging pupils the index holds twice: the one way two pupil keys become one.

A clerk accepting a review item and a match run finding exact evidence (a permanent
UPN record naming another pupil's UPN as its former UPN) both merge through
``merge_pupils``, over a table of (retired key, kept key) pairs, so whatever points at
a pupil key follows the merge the same way: record links, identifiers, history,
opt-outs (an opt-out must keep applying) and release records ("who received my data"
must still find them), with the merge recorded in ``pupil_merges``.
"""

from __future__ import annotations

import json

from pupilshare.identifiers import permanent_upn_sql
from pupilshare.match.exact import dob_agrees_sql
from pupilshare.store import Store

# The pairs to merge: (retired_key, pupil_key, review_id, match_run); a key is never
# both retired and kept, and is retired once.
PAIRS = "match_merge"


def pairs_sql(rows: str) -> str:
    """The ``match_merge`` table from a query of (retired_key, pupil_key, review_id,
    match_run)."""
    return f"CREATE OR REPLACE TEMP TABLE {PAIRS} AS {rows}"


def merge_pupils(store: Store, method: str | None) -> int:
    """Merge every retired pupil in ``match_merge`` into its kept pupil; the number
    merged. ``method``, when given, becomes the moved links' method.

    The kept pupil keeps its own ULN; a retired pupil's ULN stays retired in
    ``uln_issued`` (never issued again) and moves only to a kept pupil without one.
    """
    n = int(store.one(f"SELECT count(*) FROM {PAIRS}"))
    if not n:
        return 0
    set_method = ", method = ?" if method else ""
    store.execute(
        f"UPDATE pupil_links SET pupil_key = m.pupil_key{set_method} FROM {PAIRS} m "
        "WHERE pupil_links.pupil_key = m.retired_key",
        [method] if method else None,
    )
    store.execute(f"""
        DELETE FROM pupil_identifiers WHERE kind = 'uln' AND pupil_key IN (
            SELECT m.retired_key FROM {PAIRS} m
            WHERE m.pupil_key IN (SELECT pupil_key FROM pupil_identifiers
                                  WHERE kind = 'uln')
               OR m.retired_key > (SELECT min(o.retired_key) FROM {PAIRS} o
                   JOIN pupil_identifiers i ON i.pupil_key = o.retired_key
                   WHERE i.kind = 'uln' AND o.pupil_key = m.pupil_key))""")
    store.execute(f"""
        DELETE FROM pupil_identifiers WHERE (pupil_key, kind, value) IN (
            SELECT (m.retired_key, i.kind, i.value) FROM {PAIRS} m
            JOIN pupil_identifiers i ON i.pupil_key = m.pupil_key)""")
    for table in ("pupil_identifiers", "pupil_history", "opt_outs", "release_pupils"):
        if store.exists(table):
            store.execute(
                f"UPDATE {table} SET pupil_key = m.pupil_key FROM {PAIRS} m "
                f"WHERE {table}.pupil_key = m.retired_key"
            )
    store.execute("""
        UPDATE pupils SET uln = i.value FROM pupil_identifiers i
        WHERE i.pupil_key = pupils.pupil_key AND i.kind = 'uln' AND pupils.uln IS NULL
    """)
    store.execute(
        f"INSERT INTO pupil_merges SELECT retired_key, pupil_key, review_id, "
        f"current_timestamp, match_run FROM {PAIRS}"
    )
    store.execute(
        f"DELETE FROM pupils WHERE pupil_key IN (SELECT retired_key FROM {PAIRS})"
    )
    for col in ("pupil_key", "candidate_key"):
        store.execute(
            f"UPDATE match_review SET {col} = m.pupil_key FROM {PAIRS} m "
            f"WHERE match_review.{col} = m.retired_key"
        )
    # a question the merge answered: both sides are now one pupil
    store.execute("""
        UPDATE match_review SET status = 'accepted', decided_by = 'match',
            decided_at = now()
        WHERE status = 'pending' AND pupil_key = candidate_key""")
    return n


def same_pupil_sql(run: int) -> str:
    """Temp table ``match_same(retired_key, pupil_key, exact)``: pupils that records
    seen by run ``run`` show to be one person, by a record holding a valid permanent
    UPN that names as its former UPN a UPN (temporary or permanent) another pupil's
    records carried. The permanent UPN's pupil is kept.

    ``exact`` (merge without asking) needs the date of birth to agree, the retired
    pupil to be named by one kept pupil only and to hold no other permanent UPN, and
    the kept pupil not to be retired itself. Anything less is a question for a
    clerk.
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE match_same AS
    WITH named AS (
        SELECT DISTINCT pupil_key, upn, former_upn, date_of_birth, match_run
        FROM pupil_history
        WHERE former_upn IS NOT NULL AND upn <> former_upn
          AND {permanent_upn_sql("upn")}
    ), carried AS (
        SELECT DISTINCT pupil_key, upn, date_of_birth, match_run FROM pupil_history
        WHERE upn IS NOT NULL
    ), pairs AS (
        SELECT c.pupil_key AS retired_key, n.pupil_key,
            bool_or({dob_agrees_sql("n.date_of_birth", "c.date_of_birth")}) AS dob_ok,
            arg_max(n.upn, (n.match_run, n.upn)) AS upn
        FROM named n JOIN carried c
            ON c.upn = n.former_upn AND c.pupil_key <> n.pupil_key
        WHERE n.match_run = {run} OR c.match_run = {run}
        GROUP BY ALL
    )
    SELECT retired_key, pupil_key,
        dob_ok AND count(*) OVER (PARTITION BY retired_key) = 1
        AND retired_key NOT IN (SELECT pupil_key FROM pairs)
        AND pupil_key NOT IN (SELECT retired_key FROM pairs)
        AND NOT EXISTS (SELECT 1 FROM pupil_identifiers i
            WHERE i.pupil_key = pairs.retired_key AND i.kind = 'upn'
              AND i.value <> pairs.upn) AS exact
    FROM pairs
    """


# How a pupil-pupil review item explains itself (``review show``): no model weighed
# it, an identifier did.
SAME_PUPIL_REASON = (
    "a record with a permanent UPN names this pupil's UPN as its former UPN, but "
    "the birth dates disagree or another pupil is named too"
)


def merge_same_pupils(store: Store, run: int) -> int:
    """After a run's links and history are written: merge the pupils its records
    show to be one person (``same_pupil_sql``) and queue the pairs whose evidence
    is not exact, pupil against pupil; the number merged."""
    store.execute(same_pupil_sql(run))
    store.execute(
        pairs_sql(
            "SELECT retired_key, pupil_key, NULL::BIGINT AS review_id, "
            f"{run}::BIGINT AS match_run FROM match_same WHERE exact"
        )
    )
    merged = merge_pupils(store, None)
    # this run's profiles follow, so the pupils it touched are refreshed under the
    # kept key
    store.execute(
        f"UPDATE match_profiles SET pupil_key = m.pupil_key FROM {PAIRS} m "
        "WHERE match_profiles.pupil_key = m.retired_key"
    )
    explanation = json.dumps(
        {"former_upn": {"level": SAME_PUPIL_REASON, "weight": None}}
    ).replace("'", "''")
    store.execute(f"""
        INSERT INTO match_review
        SELECT (SELECT coalesce(max(review_id), 0) FROM match_review)
                + row_number() OVER (ORDER BY retired_key, pupil_key),
            {run}, NULL, retired_key, pupil_key, NULL, NULL, '{explanation}',
            'pending', NULL, NULL
        FROM match_same s WHERE NOT exact AND NOT EXISTS (
            SELECT 1 FROM match_review r WHERE r.status = 'pending'
              AND r.pupil_key = s.retired_key AND r.candidate_key = s.pupil_key)""")
    return merged
