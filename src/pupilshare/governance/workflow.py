"""The agreement workflow: draft -> submitted -> approved | rejected; approved ->
active -> expired | revoked; active -> suspended (recipient's identity changed) ->
active again on re-approval, or revoked.

Every change of status is a ``Transition`` row with who, when and why; a refused
submission is recorded too (draft -> draft), so an applicant can see why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare import budget
from pupilshare.config import Home
from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.governance import rules, terms
from pupilshare.governance.access import Actor
from pupilshare.governance.models import (
    Agreement,
    Decision,
    Gateway,
    Organisation,
    PanelReview,
    Transition,
    User,
)

ALLOWED: dict[str, set[str]] = {
    "draft": {"draft", "submitted"},
    "submitted": {"approved", "rejected"},
    "approved": {"active", "revoked", "suspended"},
    "active": {"expired", "revoked", "suspended"},
    "suspended": {"active", "revoked"},
}


def now() -> datetime:
    """Record time: UTC, to the second, without a zone (the same on SQLite and
    PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def get(session: Session, agreement_id: str) -> Agreement:
    ag = session.get(Agreement, agreement_id)
    if ag is None:
        raise NotFound(f"no agreement {agreement_id!r}")
    return ag


def move(session: Session, ag: Agreement, to: str, actor: Actor, why: str) -> None:
    """Change status (only along the workflow) and record the transition."""
    if to not in ALLOWED.get(ag.status, set()):
        raise Conflict(
            f"agreement {ag.agreement_id} is {ag.status}; it cannot become {to}"
        )
    session.add(
        Transition(
            agreement_id=ag.agreement_id,
            from_status=ag.status,
            to_status=to,
            actor=actor.username,
            at=now(),
            reason=why,
        )
    )
    ag.status = to


def org_facts(session: Session, org: Organisation) -> dict[str, Any]:
    users = session.scalars(select(User.username).where(User.org_id == org.org_id))
    return {
        "org_id": org.org_id,
        "name": org.name,
        "type": org.org_type,
        "status": org.status,
        "min_pupil_age": org.min_pupil_age,
        "users": list(users),
    }


def gateway_facts(gw: Gateway) -> dict[str, Any]:
    return {
        "gateway_id": gw.gateway_id,
        "levels": gw.levels,
        "datasets": gw.datasets,
        "min_age": gw.min_age,
        "max_age": gw.max_age,
    }


def refusals(
    session: Session,
    t: dict[str, Any],
    limits: budget.Budget = budget.DEFAULT,
    dataset_rows: dict[str, int] | None = None,
) -> list[str]:
    """Every reason these terms cannot be submitted (over budget included)."""
    over = budget.above_service(t.get("budget") or {}, limits)
    over += budget.plan_problems(
        t, budget.effective(t.get("budget"), limits), dataset_rows
    )
    org = session.get(Organisation, t["recipient"])
    gw = session.get(Gateway, t["gateway"])
    missing = [f"no recipient organisation {t['recipient']!r}"] if org is None else []
    missing += [f"no legal gateway {t['gateway']!r}"] if gw is None else []
    if missing:
        return missing + over
    assert org is not None and gw is not None
    unconfirmed = (
        []
        if gw.confirmed_by
        else [
            f"legal gateway {gw.gateway_id} has not been confirmed by the Chief "
            "Statistician"
        ]
    )
    return (
        unconfirmed + rules.check(t, gateway_facts(gw), org_facts(session, org)) + over
    )


def apply_terms(ag: Agreement, t: dict[str, Any]) -> None:
    """Copy the terms onto the agreement's columns (the spec keeps them whole)."""
    ag.org_id, ag.gateway_id = t["recipient"], t["gateway"]
    ag.title, ag.purpose, ag.level = t["title"], t["purpose"], t["level"]
    ag.frequency = t["frequency"]
    ag.start_date = date.fromisoformat(t["start"])
    ag.expiry_date = date.fromisoformat(t["expiry"])
    ag.destroy_by = date.fromisoformat(t["destroy_by"])
    ag.spec = t


def digest_of(ag: Agreement) -> str:
    """``terms.digest`` of the agreement as it stands: its stored terms and the
    columns the release reads (recipient, level, purpose, dates)."""
    columns = {
        "recipient": ag.org_id,
        "gateway": ag.gateway_id,
        "title": ag.title,
        "purpose": ag.purpose,
        "level": ag.level,
        "frequency": ag.frequency,
        "start": ag.start_date.isoformat(),
        "expiry": ag.expiry_date.isoformat(),
        "destroy_by": ag.destroy_by.isoformat(),
    }
    return terms.digest(ag.spec, columns)


def as_decided(session: Session, ag: Agreement) -> None:
    """The agreement's terms are the ones its latest approving decision (its own,
    a re-approval's or an approved amendment's) recorded the digest of; anything
    else (terms edited in the records, a decision made before digests were kept)
    is not what was decided: ``Conflict`` naming the agreement."""
    approved = session.scalar(
        select(Decision.terms_digest)
        .where(Decision.agreement_id == ag.agreement_id, Decision.outcome == "approved")
        .order_by(Decision.decision_id.desc())
        .limit(1)
    )
    if approved is None or approved != digest_of(ag):
        raise Conflict(
            f"agreement {ag.agreement_id}'s terms are not the terms its decision "
            "approved (changed since, or decided before the approved terms' digest "
            "was recorded): nothing is released; a change is an amendment"
        )


def submit(
    session: Session,
    actor: Actor,
    raw: dict[str, Any],
    today: date | None = None,
    home: Home | None = None,
) -> Agreement:
    """Record the terms as a draft and submit them; refuse at once with every reason.

    A refusal is committed (the draft and a draft -> draft transition giving the
    reasons) before ``InvalidInput`` is raised, so the refusal is on the record.
    """
    actor.require("submit", "submit agreements")
    t = terms.normalise(raw, today)
    if actor.roles.isdisjoint({"data_operations"}) and t["recipient"] != actor.org_id:
        raise InvalidInput(
            f"{actor.username} may submit only for their own organisation"
        )
    ag = session.get(Agreement, t["id"])
    if ag is not None and ag.org_id != t["recipient"]:
        raise Conflict(f"agreement id {t['id']} is taken by another recipient")
    if ag is not None and ag.status != "draft":
        raise Conflict(
            f"agreement {t['id']} is {ag.status}; change it by an "
            "amendment, never in place"
        )
    limits, rows = budget.limits_for(home) if home else (budget.DEFAULT, None)
    reasons = refusals(session, t, limits, rows)
    if ag is None:
        if reasons and (
            session.get(Organisation, t["recipient"]) is None
            or session.get(Gateway, t["gateway"]) is None
        ):
            raise InvalidInput(f"submission {t['id']} refused", reasons)
        ag = Agreement(
            agreement_id=t["id"],
            status="draft",
            version=1,
            submitted_by=actor.username,
            created_at=now(),
        )
        session.add(ag)
    apply_terms(ag, t)
    ag.submitted_by = actor.username
    if reasons:
        move(session, ag, "draft", actor, "submission refused: " + "; ".join(reasons))
        session.commit()
        raise InvalidInput(f"submission {t['id']} refused", reasons)
    move(session, ag, "submitted", actor, "submitted for the approval panel")
    session.flush()
    return ag


def last_entered(session: Session, agreement_id: str, status: str) -> datetime | None:
    return session.scalar(
        select(Transition.at)
        .where(Transition.agreement_id == agreement_id, Transition.to_status == status)
        .order_by(Transition.transition_id.desc())
        .limit(1)
    )


def quorate_review(
    session: Session, agreement_id: str, amendment_id: int | None = None
) -> PanelReview | None:
    """The latest quorate panel sitting on this submission (or amendment)."""
    since = last_entered(session, agreement_id, "submitted") or datetime.min
    q = (
        select(PanelReview)
        .where(
            PanelReview.agreement_id == agreement_id,
            PanelReview.quorate == 1,
            PanelReview.held_at >= since,
            PanelReview.amendment_id.is_(None)
            if amendment_id is None
            else PanelReview.amendment_id == amendment_id,
        )
        .order_by(PanelReview.review_id.desc())
        .limit(1)
    )
    return session.scalar(q)


def decide(
    session: Session,
    actor: Actor,
    agreement_id: str,
    approve: bool,
    reason: str,
    conditions: list[str] | None = None,
) -> Decision:
    """The Chief Statistician's decision, after a quorate panel; never their own.

    On a suspended agreement (the recipient's identity changed) approval re-approves
    it and rejection revokes it.
    """
    actor.require("decide", "decide agreements")
    ag = get(session, agreement_id)
    if not reason.strip():
        raise InvalidInput("a decision needs its reasons")
    if ag.submitted_by == actor.username:
        raise Conflict(
            f"{actor.username} submitted {agreement_id} and may not decide it"
        )
    if ag.gateway.confirmed_by is None:
        raise Conflict(
            f"legal gateway {ag.gateway_id} of {agreement_id} has not been "
            "confirmed by the Chief Statistician"
        )
    review = None
    if ag.status == "submitted":
        review = quorate_review(session, agreement_id)
        if review is None:
            raise Conflict(
                f"{agreement_id} has no quorate panel review since it was submitted"
            )
        if review.terms_digest != digest_of(ag):
            raise Conflict(
                f"agreement {agreement_id}'s terms are not the terms its panel sat "
                "on: it goes before the panel again"
            )
        to = "approved" if approve else "rejected"
    elif ag.status == "suspended":
        if approve and ag.organisation.status != "active":
            raise Conflict(
                f"{ag.org_id}'s changed identity must be re-approved "
                "before its agreements"
            )
        if approve:  # re-approves the terms approved before, never edited ones
            as_decided(session, ag)
        to = "active" if approve else "revoked"
    else:
        raise Conflict(f"agreement {agreement_id} is {ag.status}; nothing to decide")
    all_conditions = [*(review.conditions if review else []), *(conditions or [])]
    d = Decision(
        agreement_id=agreement_id,
        review_id=review and review.review_id,
        decided_by=actor.username,
        decided_at=now(),
        outcome="approved" if approve else "rejected",
        reasons=reason,
        conditions=all_conditions,
        terms_digest=digest_of(ag),
    )
    session.add(d)
    move(session, ag, to, actor, reason)
    session.flush()
    return d


def activate(
    session: Session, actor: Actor, agreement_id: str, today: date | None = None
) -> Agreement:
    """Approved -> active, within its term. Only an approved agreement: a
    suspended one becomes active again only by the Chief Statistician's
    re-approval (``decide``), never by activating it."""
    actor.require("activate", "activate agreements")
    ag, today = get(session, agreement_id), today or date.today()
    if ag.status != "approved":
        raise Conflict(
            f"agreement {agreement_id} is {ag.status}; only an approved agreement "
            "is activated (a suspended one is re-approved by a decision)"
        )
    if not ag.start_date <= today <= ag.expiry_date:
        raise Conflict(
            f"{agreement_id} runs {ag.start_date} to {ag.expiry_date}; it "
            f"cannot be active on {today}"
        )
    move(session, ag, "active", actor, "approved and within its term")
    return ag


def expire_due(session: Session, actor: Actor, today: date | None = None) -> list[str]:
    """Expire every active or approved agreement past its expiry date."""
    actor.require("activate", "expire agreements")
    today = today or date.today()
    due = session.scalars(
        select(Agreement).where(
            Agreement.status.in_(("active", "approved")), Agreement.expiry_date < today
        )
    ).all()
    for ag in due:
        to = "expired" if ag.status == "active" else "revoked"
        move(session, ag, to, actor, f"expiry date {ag.expiry_date} passed")
    return [ag.agreement_id for ag in due]


def revoke(session: Session, actor: Actor, agreement_id: str, reason: str) -> Agreement:
    actor.require("revoke", "revoke agreements")
    if not reason.strip():
        raise InvalidInput("a revocation needs its reasons")
    ag = get(session, agreement_id)
    move(session, ag, "revoked", actor, reason)
    return ag


def history(session: Session, agreement_id: str) -> list[Transition]:
    return list(
        session.scalars(
            select(Transition)
            .where(Transition.agreement_id == agreement_id)
            .order_by(Transition.transition_id)
        )
    )
