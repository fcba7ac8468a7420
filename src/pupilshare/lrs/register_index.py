"""The register's first learners: every pupil of the index who holds a ULN (issued
by the match run, or carried on a record), put on the register once with their
pupil key, so the ledger's entries about them are found by subject access too.
Pupils whose details do not pass the service's checks are counted, not loaded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import InvalidInput
from pupilshare.lrs.details import parse
from pupilshare.lrs.models import Learner
from pupilshare.lrs.service import add_learner
from pupilshare.store import Store

INDEX_SQL = """
    SELECT pupil_key, uln, forename, surname, CAST(date_of_birth AS VARCHAR),
           sex, postcode, upn
    FROM pupils WHERE uln IS NOT NULL ORDER BY pupil_key"""


def sync(session: Session, store: Store, at: datetime) -> dict[str, int]:
    if not store.exists("pupils"):
        return {"added": 0, "present": 0, "unusable": 0}
    have = set(session.scalars(select(Learner.uln)))
    added = present = unusable = 0
    for key, uln, fn, sn, dob, sex, pc, upn in store.rows(INDEX_SQL):
        if uln in have:
            present += 1
            continue
        try:
            d = parse(
                {
                    "forenames": fn,
                    "surname": sn,
                    "date_of_birth": dob,
                    "sex": sex or "U",
                    "postcode": pc,
                    "upn": upn,
                },
                at.date(),
            )
        except InvalidInput:
            unusable += 1
            continue
        add_learner(session, d, uln, "index", "pupil index", at, int(key))
        have.add(uln)
        added += 1
    return {"added": added, "present": present, "unusable": unusable}
