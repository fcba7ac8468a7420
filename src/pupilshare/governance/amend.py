"""Amendments: an approved agreement changes only by a difference from what was
approved, shown and decided as that difference, never by editing it in place.

A proposal names only the terms it changes (in the submission format); the full
amended terms are checked by the same submission rules, so an amendment can no more
ask for what the gateway cannot give than a first submission can.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.governance import terms as T
from pupilshare.governance.access import Actor
from pupilshare.governance.models import Amendment, Decision, Transition
from pupilshare.governance.workflow import (
    apply_terms,
    as_decided,
    digest_of,
    get,
    now,
    quorate_review,
    refusals,
)

FIXED = ("id", "recipient")  # a new recipient is a new agreement, never an amendment


def to_raw(t: dict[str, Any]) -> dict[str, Any]:
    """Stored terms back in the submission format (the inverse of ``normalise``)."""
    raw = {k: v for k, v in t.items() if k not in ("datasets", "items")}
    raw["datasets"] = {
        ds: {
            "justification": why,
            "items": {
                ref.split(".", 1)[1]: w
                for ref, w in t["items"].items()
                if ref.split(".", 1)[0] == ds
            },
        }
        for ds, why in t["datasets"].items()
    }
    return raw


def propose(
    session: Session,
    actor: Actor,
    agreement_id: str,
    changes: dict[str, Any],
    reason: str,
) -> Amendment:
    actor.require("amend", "propose amendments")
    ag = get(session, agreement_id)
    if ag.status not in ("approved", "active"):
        raise Conflict(
            f"agreement {agreement_id} is {ag.status}; only an approved or "
            "active agreement is amended"
        )
    if not actor.roles & {"data_operations"} and ag.org_id != actor.org_id:
        raise InvalidInput(f"{actor.username} may amend only their own agreements")
    if not reason.strip():
        raise InvalidInput("an amendment needs its reasons")
    fixed = [k for k in FIXED if k in changes and changes[k] != ag.spec[k]]
    if fixed:
        raise InvalidInput("an amendment cannot change " + ", ".join(fixed))
    new = T.normalise({**to_raw(ag.spec), **changes})
    reasons = refusals(session, new)
    if reasons:
        raise InvalidInput(f"amendment to {agreement_id} refused", reasons)
    d = T.diff(ag.spec, new)
    if not d:
        raise InvalidInput("the amendment changes nothing")
    am = Amendment(
        agreement_id=agreement_id,
        base_version=ag.version,
        diff=d,
        reason=reason,
        proposed_by=actor.username,
        proposed_at=now(),
        status="submitted",
    )
    session.add(am)
    session.flush()
    session.add(
        Transition(
            agreement_id=agreement_id,
            from_status=ag.status,
            to_status=ag.status,
            actor=actor.username,
            at=now(),
            reason=f"amendment {am.amendment_id} proposed: {', '.join(d)}",
        )
    )
    return am


def decide(
    session: Session,
    actor: Actor,
    agreement_id: str,
    amendment_id: int,
    approve: bool,
    reason: str,
) -> Decision:
    """Decide an amendment after a quorate panel on it; applied only if approved."""
    actor.require("decide", "decide amendments")
    ag = get(session, agreement_id)
    am = session.get(Amendment, amendment_id)
    if am is None or am.agreement_id != agreement_id:
        raise NotFound(f"no amendment {amendment_id} to {agreement_id}")
    if am.status != "submitted":
        raise Conflict(f"amendment {amendment_id} is already {am.status}")
    if actor.username in (am.proposed_by, ag.submitted_by):
        raise Conflict(
            f"{actor.username} proposed or submitted this and may not decide it"
        )
    if not reason.strip():
        raise InvalidInput("a decision needs its reasons")
    if am.base_version != ag.version:
        raise Conflict(
            f"amendment {amendment_id} was made against version "
            f"{am.base_version}; the agreement is now "
            f"{ag.version}"
        )
    review = quorate_review(session, agreement_id, amendment_id)
    if review is None:
        raise Conflict(f"amendment {amendment_id} has no quorate panel review")
    as_decided(session, ag)  # amends the approved terms, never edited ones
    amended = T.apply_diff(ag.spec, am.diff)
    if review.terms_digest != T.digest(amended):
        raise Conflict(
            f"agreement {agreement_id}'s amendment {amendment_id} is not the one "
            "its panel sat on"
        )
    am.status = "approved" if approve else "rejected"
    dec = Decision(
        agreement_id=agreement_id,
        amendment_id=amendment_id,
        review_id=review.review_id,
        decided_by=actor.username,
        decided_at=now(),
        outcome=am.status,
        reasons=reason,
        conditions=list(review.conditions),
    )
    session.add(dec)
    if approve:
        apply_terms(ag, amended)
        ag.version += 1
    dec.terms_digest = digest_of(ag) if approve else T.digest(amended)
    session.add(
        Transition(
            agreement_id=agreement_id,
            from_status=ag.status,
            to_status=ag.status,
            actor=actor.username,
            at=now(),
            reason=f"amendment {amendment_id} {am.status}: {reason}",
        )
    )
    session.flush()
    return dec


def amendments_of(session: Session, agreement_id: str) -> list[Amendment]:
    return list(
        session.scalars(
            select(Amendment)
            .where(Amendment.agreement_id == agreement_id)
            .order_by(Amendment.amendment_id)
        )
    )
