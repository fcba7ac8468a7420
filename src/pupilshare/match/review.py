"""The clerical review queue: pairs the model was unsure of, for a person to decide.

A queued group of records was made a new pupil for now (nothing is merged on a guess).
Accepting merges that provisional pupil into the candidate: its links and identifiers
move over, and a ULN issued to it stays retired in ``uln_issued`` so it is never
issued again. Rejecting keeps the new pupil. The queue is for the data operations
team, so ``show`` gives person values; the internal pupil key is never shown.
"""

from __future__ import annotations

import json
from typing import Any

from pupilshare.errors import Conflict, NotFound
from pupilshare.match import merge
from pupilshare.match.records import union_sql
from pupilshare.match.tables import ensure_tables
from pupilshare.store import Store

PERSON = ("upn", "uln", "forename", "surname", "date_of_birth", "sex", "postcode")


def list_reviews(store: Store, status: str = "pending") -> list[dict[str, Any]]:
    """The queue, most likely matches first."""
    ensure_tables(store)
    rows = store.rows(
        "SELECT r.review_id, r.match_run, r.match_probability, r.match_weight, "
        "r.status, (SELECT count(*) FROM pupil_links l WHERE l.pupil_key = "
        "r.pupil_key) AS records FROM match_review r "
        "WHERE ? = 'all' OR r.status = ? ORDER BY r.match_probability DESC, review_id",
        [status, status],
    )
    keys = (
        "review_id",
        "match_run",
        "match_probability",
        "match_weight",
        "status",
        "records",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _item(store: Store, review_id: int) -> tuple:
    row = store.rows(
        "SELECT review_id, pupil_key, candidate_key, match_probability, match_weight, "
        "explanation, status, decided_by, decided_at FROM match_review "
        "WHERE review_id = ?",
        [review_id],
    )
    if not row:
        raise NotFound(f"no review item {review_id}")
    return row[0]


def show_review(store: Store, review_id: int) -> dict[str, Any]:
    """The records under review, the candidate pupil, and why: each comparison's
    level and match weight, and the final probability."""
    ensure_tables(store)
    rid, key, cand, prob, weight, expl, status, by, at = _item(store, review_id)
    fields = ", ".join(PERSON)
    candidate = store.rows(f"SELECT {fields} FROM pupils WHERE pupil_key = ?", [cand])
    recs = store.rows(
        f"SELECT r.dataset, r.collection_id, r.line, "
        f"{', '.join('r.' + f for f in PERSON)} "
        f"FROM ({union_sql(store)}) r JOIN pupil_links l "
        f"USING (dataset, collection_id, line) WHERE l.pupil_key = ? "
        f"ORDER BY r.dataset, r.collection_id, r.line",
        [key],
    )
    return {
        "review_id": rid,
        "status": status,
        "decided_by": by,
        "decided_at": str(at) if at else None,
        "match_probability": prob,
        "match_weight": weight,
        "comparisons": json.loads(expl or "{}"),
        "candidate": dict(zip(PERSON, candidate[0], strict=True)) if candidate else {},
        "records": [
            dict(zip(("dataset", "collection_id", "line", *PERSON), r, strict=True))
            for r in recs
        ],
    }


def _pending(store: Store, review_id: int) -> tuple[int, int]:
    _, key, cand, *_, status, _, _ = _item(store, review_id)
    if status != "pending":
        raise Conflict(f"review item {review_id} is already {status}")
    return key, cand


def accept_review(store: Store, review_id: int, user: str) -> None:
    """Same person: merge the provisional pupil into the candidate."""
    ensure_tables(store)
    with store.transaction():
        key, cand = _pending(store, review_id)
        store.execute(
            merge.pairs_sql(
                f"SELECT {int(key)}::BIGINT AS retired_key, {int(cand)}::BIGINT AS "
                f"pupil_key, {int(review_id)}::BIGINT AS review_id, NULL::BIGINT AS "
                "match_run"
            )
        )
        merge.merge_pupils(store, "review_accepted")
        _decide(store, review_id, "accepted", user)


def reject_review(store: Store, review_id: int, user: str) -> None:
    """Different people: the provisional pupil stands."""
    ensure_tables(store)
    with store.transaction():
        key, _ = _pending(store, review_id)
        store.execute(
            "UPDATE pupil_links SET method = 'review_rejected' WHERE pupil_key = ?",
            [key],
        )
        _decide(store, review_id, "rejected", user)


def _decide(store: Store, review_id: int, status: str, user: str) -> None:
    store.execute(
        "UPDATE match_review SET status = ?, decided_by = ?, decided_at = now() "
        "WHERE review_id = ?",
        [status, user, review_id],
    )


__all__ = ["accept_review", "list_reviews", "reject_review", "show_review"]
