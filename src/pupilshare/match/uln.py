"""ULN issue: every pupil aged 14 or over on the reference date, or with a
qualification record, holds exactly one ULN, issued once and never reused.

The issuer's state (the next stem) lives in ``uln_state`` and every number issued in
``uln_issued``, both written in the match run's transaction: a killed run issues
nothing, and a number once issued is never issued again, even if its pupil is later
merged away in review.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from pupilshare.identifiers import UlnIssuer
from pupilshare.store import Store

FIRST_STEM = 100_000_000


def needing_uln_sql(reference: date) -> str:
    """Pupils without a ULN who are 14+ on ``reference`` or have a qualification."""
    return f"""
    SELECT p.pupil_key,
        CASE WHEN p.date_of_birth + INTERVAL 14 YEAR <= DATE '{reference.isoformat()}'
             THEN 'aged 14 or over' ELSE 'qualification record' END AS reason
    FROM pupils p
    WHERE p.pupil_key NOT IN (SELECT pupil_key FROM pupil_identifiers
                              WHERE kind = 'uln')
      AND (p.date_of_birth + INTERVAL 14 YEAR <= DATE '{reference.isoformat()}'
           OR p.pupil_key IN (SELECT pupil_key FROM pupil_links
                              WHERE dataset = 'qualifications'))
    ORDER BY p.pupil_key
    """


def issue_ulns(store: Store, run: int, reference: date) -> int:
    """Issue a ULN to every pupil who needs one; how many were issued."""
    need = store.rows(needing_uln_sql(reference))
    if not need:
        return 0
    stem = store.one("SELECT max(next_stem) FROM uln_state") or FIRST_STEM
    in_use = [
        r[0]
        for r in store.rows(
            "SELECT value FROM pupil_identifiers WHERE kind = 'uln' "
            "UNION SELECT uln FROM uln_issued"
        )
    ]
    issuer = UlnIssuer(next_stem=stem, in_use=in_use)
    ulns = [issuer.issue() for _ in need]
    issued = pa.table(
        {
            "uln": pa.array(ulns, pa.string()),
            "pupil_key": pa.array([k for k, _ in need], pa.int64()),
            "reason": pa.array([r for _, r in need], pa.string()),
        }
    )
    store.register("_issued", issued)
    store.execute(
        f"INSERT INTO uln_issued SELECT uln, pupil_key, {run}, reason FROM _issued"
    )
    store.execute(
        "INSERT INTO pupil_identifiers SELECT pupil_key, 'uln', uln FROM _issued"
    )
    store.execute(
        "UPDATE pupils SET uln = i.uln FROM _issued i "
        "WHERE i.pupil_key = pupils.pupil_key"
    )
    store.unregister("_issued")
    store.execute("DELETE FROM uln_state")
    store.execute("INSERT INTO uln_state VALUES (?)", [issuer.next_stem])
    return len(ulns)
