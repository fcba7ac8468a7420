"""The clerical review of registrations held as possible matches: a clerk (data
operations) decides the case is one of its candidates or a new learner; the
organisation then asks for its case and gets the ULN (its own cases only, each
answer recorded like a look-up)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.governance import Principal
from pupilshare.lrs import journal, watch
from pupilshare.lrs.agreements import Caller
from pupilshare.lrs.details import parse
from pupilshare.lrs.models import Learner, Registration, ReviewCase


def resolve(
    session: Session,
    actor: Principal,
    case_id: int,
    same_uln: str | None,
    at: datetime,
) -> dict[str, Any]:
    """``same_uln``: the candidate the case is; None: a new learner."""
    actor.require("lrs_manage", "decide the learner service's review cases")
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise NotFound(f"no review case {case_id}")
    if case.status != "open":
        raise Conflict(f"case {case_id} is already {case.status}")
    if same_uln:
        learner = session.scalar(select(Learner).where(Learner.uln == same_uln))
        if learner is None or learner.learner_id not in case.candidates:
            raise InvalidInput("the ULN is not one of the case's candidates")
        case.outcome = f"same learner: {learner.learner_id}"
    else:
        from pupilshare.lrs.service import add_learner, new_uln

        d = parse({k: v for k, v in case.details.items() if k != "post14"}, at.date())
        learner = add_learner(
            session, d, new_uln(session), "review", actor.username, at
        )
        case.outcome = f"new learner: {learner.learner_id}"
    case.status, case.resolved_by, case.resolved_at = "resolved", actor.username, at
    session.add(
        Registration(
            learner_id=learner.learner_id,
            org_id=case.org_id,
            username=case.username,
            at=at,
        )
    )
    return {"case": case_id, "status": case.status, "outcome": case.outcome}


def answer(
    session: Session, key: str, caller: Caller, case_id: int, at: datetime
) -> dict[str, Any]:
    """The organisation's own case: still open, or resolved with the learner."""
    from pupilshare.lrs.service import items_of

    case = session.get(ReviewCase, case_id)
    if case is None or case.org_id != caller.org_id:
        raise NotFound(f"no case {case_id} of {caller.org_id}")
    if case.status == "open":
        return {"case": case_id, "status": "open"}
    watch.admit(session, key, caller, at)
    learner_id = int(case.outcome.rsplit(":", 1)[1])
    learner = session.get(Learner, learner_id)
    items = [i for i in caller.agreement.items if i != "achievements"]
    row = journal.record(
        session,
        at,
        caller.org_id,
        caller.username,
        caller.agreement.agreement_id,
        "case",
        "resolved",
        learner,
        items,
    )
    watch.observe(session, key, caller, row, at)
    assert learner is not None
    return {"case": case_id, "status": "resolved", "learner": items_of(learner, items)}
