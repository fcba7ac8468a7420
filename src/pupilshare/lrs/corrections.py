"""A clerk's decision on a learner's request to correct a detail (``plr``
records the request): data operations list the open requests and accept one (the
detail on the register changes, with the normalised keys the matcher compares,
and the old value is kept) or reject it with a reason. A correction that would
make the learner match another learner on the register is not accepted: the clerk
first finds out whether they are one person. The decision, who made it
and when stay on the request, and the learner sees them on their record.

Only data operations decide (``lrs_manage``): a learner, an organisation's user or
anyone else is refused before anything is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.governance import Principal
from pupilshare.lrs import matching
from pupilshare.lrs.details import parse
from pupilshare.lrs.models import Correction, Learner
from pupilshare.lrs.service import details_of

STATUSES = ("open", "accepted", "rejected")


def as_json(c: Correction, learner: Learner | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "correction": c.correction_id,
        "field": c.field,
        "value": c.value,
        "reason": c.reason,
        "at": c.at.isoformat(timespec="seconds"),
        "status": c.status,
        "note": c.note or "",
        "decided_by": c.decided_by or "",
        "decided_at": c.decided_at.isoformat(timespec="seconds")
        if c.decided_at
        else "",
    }
    if learner is not None:
        out["uln"] = learner.uln
        out["current"] = str(getattr(learner, c.field, ""))
        if c.status == "accepted":
            out["current"] = c.old_value or ""
    return out


def listed(session: Session, actor: Principal, status: str = "open") -> list[dict]:
    """Requests with ``status`` (``all``: every one), oldest first, each with the
    learner's ULN and the value the register holds now (before, once accepted)."""
    actor.require("lrs_manage", "see learners' correction requests")
    if status != "all" and status not in STATUSES:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)} or all")
    q = (
        select(Correction, Learner)
        .join(Learner, Learner.learner_id == Correction.learner_id)
        .order_by(Correction.correction_id)
    )
    if status != "all":
        q = q.where(Correction.status == status)
    return [as_json(c, learner) for c, learner in session.execute(q)]


def _apply(learner: Learner, field: str, value: str, at: datetime) -> str:
    """Change ``field`` to ``value`` as the register holds it (checked and
    normalised as a registration's details are); the old value."""
    d = parse({**details_of(learner), field: value}, at.date())
    old = getattr(learner, field)
    old = old.isoformat() if hasattr(old, "isoformat") else str(old)
    learner.forenames, learner.surname = d.forenames, d.surname
    learner.date_of_birth, learner.sex, learner.postcode = (
        d.date_of_birth,
        d.sex,
        d.postcode,
    )
    learner.forename_key, learner.surname_key = d.forename_key, d.surname_key
    learner.birth_year = d.date_of_birth.year
    return old


def _others_alike(
    session: Session, learner: Learner, field: str, value: str, at: datetime
) -> list[str]:
    """The ULNs of other learners the register would confuse with this one once
    ``field`` is ``value``: a match or a possible match for the corrected details
    among everyone else, as the matcher decides for a registration (a ULN is
    never answered on an ambiguous match, so the register must not make one)."""
    d = parse({**details_of(learner), field: value}, at.date())
    others = [
        c for c in matching.candidates(session, d) if c.learner_id != learner.learner_id
    ]
    return sorted(
        c.uln for c in others if c.learner_id in matching.decide(d, others).candidates
    )


def decide(
    session: Session,
    actor: Principal,
    correction_id: int,
    accept: bool,
    note: str,
    at: datetime,
) -> dict[str, Any]:
    """Accept (the detail changes) or reject (a reason is required) one open
    request; a decided request is not decided again."""
    actor.require("lrs_manage", "decide learners' correction requests")
    note = " ".join((note or "").split())
    if len(note) > 2000:
        raise InvalidInput("note: at most 2000 characters")
    if not accept and not note:
        raise InvalidInput(
            "note: say why the correction is rejected (the learner sees it)"
        )
    row = session.get(Correction, correction_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no correction request {correction_id}")
    if row.status != "open":
        raise Conflict(f"correction request {correction_id} is already {row.status}")
    learner = session.get(Learner, row.learner_id)
    if learner is None:
        raise NotFound(f"correction request {correction_id} has no learner")
    if accept:
        alike = _others_alike(session, learner, row.field, row.value, at)
        if alike:
            raise Conflict(
                f"accepting correction request {correction_id} would make learner "
                f"{learner.uln} match {', '.join(alike)} on the register: check "
                "whether they are one person first (the request stays open)"
            )
        row.old_value = _apply(learner, row.field, row.value, at)
    row.status = "accepted" if accept else "rejected"
    row.note, row.decided_by, row.decided_at = note, actor.username, at
    session.flush()
    return as_json(row, learner)
