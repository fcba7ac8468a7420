"""Every answer recorded before it leaves, then sealed into the ledger.

A look-up (register, verify, search by details, achievements) writes its
``lrs_lookups`` row in the transaction that makes the answer: an answer whose row
did not commit is never sent. The service cannot hold the pupil store (the command
line owns it), so ``seal`` appends the unsealed rows, and the abuse watch's events,
to the disclosure ledger in batches, one entry each, and keeps each row's ledger
index: the service does so every few seconds while it runs, and ``pupilshare lrs
seal`` does it from the command line. Sealing is idempotent: each entry carries the
row's id as its ``release_id``, and rows the ledger already holds are not appended
again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare import ledger
from pupilshare.config import Home
from pupilshare.lrs.models import Learner, Lookup, WatchEvent
from pupilshare.store import Store

SERVICE = "learner records service"
BATCH = 5000


_INSERT = Lookup.__table__.insert()


def record(
    session: Session,
    at: datetime,
    org_id: str,
    username: str,
    agreement_id: str,
    action: str,
    outcome: str,
    learner: Learner | None,
    items: list[str],
) -> Lookup:
    """Record one answer in the answer's transaction. The row is inserted at once
    (one statement, not through the unit of work: every look-up does this); the
    ``Lookup`` returned holds its values for the abuse watch, not its id."""
    values = {
        "at": at,
        "org_id": org_id,
        "username": username,
        "agreement_id": agreement_id,
        "action": action,
        "outcome": outcome,
        "learner_id": learner.learner_id if learner is not None else None,
        "items": list(items),
    }
    session.execute(_INSERT, values)
    return Lookup(**values)


def person_keys(learner: Learner) -> list[str]:
    """The keys the ledger knows this learner by: the pupil key when the index has
    them, and always their ULN."""
    keys = [f"uln:{learner.uln}"]
    if learner.pupil_key is not None:
        keys.insert(0, str(learner.pupil_key))
    return keys


def _lookup_fields(row: Lookup, purpose: str) -> dict[str, Any]:
    return {
        "kind": "lookup",
        "release_id": f"lrs-lookup-{row.lookup_id}",
        "service": SERVICE,
        "agreement_id": row.agreement_id,
        "recipient": row.org_id,
        "user": row.username,
        "purpose": purpose,
        "level": "identified",
        "action": row.action,
        "outcome": row.outcome,
        "items": sorted(row.items or []),
        "row_count": 1 if row.learner_id is not None else 0,
        "created_at": row.at.isoformat(timespec="seconds"),
    }


def _event_fields(row: WatchEvent) -> dict[str, Any]:
    return {
        "kind": "watch_event",
        "release_id": f"lrs-watch-{row.event_id}",
        "service": SERVICE,
        "agreement_id": None,
        "recipient": row.org_id,
        "user": row.username,
        "rule": row.rule,
        "action": row.action,
        "detail": row.detail,
        "row_count": 0,
        "created_at": row.at.isoformat(timespec="seconds"),
    }


def unsealed(session: Session) -> int:
    from sqlalchemy import func

    return int(
        session.scalar(select(func.count()).where(Lookup.ledger_index.is_(None))) or 0
    ) + int(
        session.scalar(select(func.count()).where(WatchEvent.ledger_index.is_(None)))
        or 0
    )


def seal(session: Session, store: Store, home: Home, purposes: dict[str, str]) -> int:
    """Append up to ``BATCH`` unsealed rows to the ledger; how many were sealed.
    ``purposes`` maps agreement ids to their stated purpose."""
    looks = list(
        session.scalars(
            select(Lookup)
            .where(Lookup.ledger_index.is_(None))
            .order_by(Lookup.lookup_id)
            .limit(BATCH)
        )
    )
    events = list(
        session.scalars(
            select(WatchEvent)
            .where(WatchEvent.ledger_index.is_(None))
            .order_by(WatchEvent.event_id)
            .limit(BATCH)
        )
    )
    if not looks and not events:
        return 0
    ids = {x.learner_id for x in looks if x.learner_id is not None}
    learners = (
        {
            x.learner_id: x
            for x in session.scalars(select(Learner).where(Learner.learner_id.in_(ids)))
        }
        if ids
        else {}
    )
    keyed = {
        lid: person_keys(who) for lid, who in learners.items()
    }  # every person's keys digested in one call: the home's key read once
    flat = [k for ks in keyed.values() for k in ks]
    digest_of = dict(zip(flat, ledger.digests(home, flat), strict=True))
    pending: list[tuple[Any, dict[str, Any], list[bytes]]] = []
    for row in looks:
        ks = keyed.get(row.learner_id, []) if row.learner_id is not None else []
        pending.append(
            (
                row,
                _lookup_fields(row, purposes.get(row.agreement_id, "")),
                [digest_of[k] for k in ks],
            )
        )
    for ev in events:
        pending.append((ev, _event_fields(ev), []))
    have = ledger.present(store, [f["release_id"] for _, f, _ in pending])
    todo = [(r, f, d) for r, f, d in pending if f["release_id"] not in have]
    indexes = ledger.append_many(store, home, [(f, d) for _, f, d in todo])
    for (row, _, _), index in zip(todo, indexes, strict=True):
        row.ledger_index = index
    if have:  # sealed by an earlier run that died before marking its rows
        for row, f, _ in pending:
            if f["release_id"] in have:
                row.ledger_index = -1
    return len(pending)
