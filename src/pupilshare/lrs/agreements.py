"""Organisations' agreements to use the learner service, and who is asking under
one: a named user of an organisation whose agreement is active.

Data operations record an agreement for an organisation the governance records
hold (awarding organisation, school or college, training provider): its purpose,
the look-ups a month it expects (the abuse watch measures against it) and the items
its answers may hold (``ITEMS``; achievements only with the learner's consent).
It is then decided like any other agreement: the approval panel's sitting (recorded
under the governance panel's separation of duties and checks), then the Chief
Statistician's decision. Until an approving decision the service answers no
look-up under it (``caller``, fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session

from pupilshare.errors import Conflict, Denied, InvalidInput, NotFound
from pupilshare.governance import Principal
from pupilshare.lrs.models import Hold, ServiceAgreement, ServiceDecision

ITEMS = (
    "uln",
    "forenames",
    "surname",
    "date_of_birth",
    "sex",
    "postcode",
    "upn",
    "achievements",
)
ORG_TYPES = (
    "awarding organisation",
    "school/post-16 institution",
    "training provider",
)
ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")


@dataclass(frozen=True)
class Caller:
    """A signed-in user acting under their organisation's active agreement."""

    principal: Principal
    agreement: ServiceAgreement
    holds: tuple[Hold, ...] = ()  # the user's (and org's) open holds, as asked

    @property
    def org_id(self) -> str:
        return self.agreement.org_id

    @property
    def username(self) -> str:
        return self.principal.username

    @property
    def awarding(self) -> bool:
        return self.agreement.org_type == "awarding organisation"


def add_agreement(
    session: Session,
    actor: Principal,
    agreement_id: str,
    org_id: str,
    org_type: str,
    purpose: str,
    monthly_volume: int,
    items: list[str],
    at: datetime,
) -> ServiceAgreement:
    actor.require("lrs_manage", "record learner-service agreements")
    errors = []
    if not ID.match(agreement_id):
        errors.append("id: lower-case letters, digits and '-'")
    if org_type not in ORG_TYPES:
        errors.append(f"org_type: one of {', '.join(ORG_TYPES)}")
    if len(" ".join(purpose.split())) < 10:
        errors.append("purpose: say what the look-ups are for (10 characters or more)")
    if not 1 <= monthly_volume <= 10_000_000:
        errors.append("monthly_volume: 1 to 10,000,000 look-ups a month")
    bad = [i for i in items if i not in ITEMS]
    if bad or not items:
        errors.append(f"items: among {', '.join(ITEMS)}")
    if "uln" not in items:
        errors.append("items: an answer always holds the ULN; list uln")
    if errors:
        raise InvalidInput(f"agreement {agreement_id} refused", errors)
    if session.get(ServiceAgreement, agreement_id) is not None:
        raise Conflict(f"agreement {agreement_id} exists")
    live = session.scalar(
        select(ServiceAgreement).where(
            ServiceAgreement.org_id == org_id, ServiceAgreement.status == "active"
        )
    )
    if live is not None:
        raise Conflict(
            f"{org_id} already has an active agreement ({live.agreement_id})"
        )
    row = ServiceAgreement(
        agreement_id=agreement_id,
        org_id=org_id,
        org_type=org_type,
        purpose=" ".join(purpose.split()),
        monthly_volume=monthly_volume,
        items=sorted(set(items), key=ITEMS.index),
        status="submitted",  # before the panel; active on the Chief's approval
        created_by=actor.username,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row


def set_status(
    session: Session, actor: Principal, agreement_id: str, status: str
) -> ServiceAgreement:
    actor.require("lrs_manage", "change learner-service agreements")
    if status not in ("active", "suspended", "ended"):
        raise InvalidInput("status: active, suspended or ended")
    row = _get(session, agreement_id)
    if row.status == "rejected" or (
        status == "active" and not _approved(session, agreement_id)
    ):
        raise Conflict(
            f"no decision approves learner-service agreement {agreement_id} "
            f"({row.status}): only the Chief Statistician's approval after the "
            "panel makes it active"
        )
    row.status = status
    return row


def _get(session: Session, agreement_id: str) -> ServiceAgreement:
    row = session.get(ServiceAgreement, agreement_id)
    if row is None:
        raise NotFound(f"no learner-service agreement {agreement_id}")
    return row


def _latest(session: Session, agreement_id: str, kind: str) -> str | None:
    """The outcome of the agreement's latest decision of ``kind`` (``panel`` or
    ``chief``), None before any."""
    return session.scalar(
        select(ServiceDecision.outcome)
        .where(
            ServiceDecision.agreement_id == agreement_id,
            ServiceDecision.kind == kind,
        )
        .order_by(ServiceDecision.decision_id.desc())
        .limit(1)
    )


def _approved(session: Session, agreement_id: str) -> bool:
    return _latest(session, agreement_id, "chief") == "approved"


def record_panel(
    session: Session,
    actor: Principal,
    agreement_id: str,
    views: list[dict[str, Any]],
    at: datetime,
) -> ServiceDecision:
    """The approval panel's sitting on a submitted learner-service agreement, under
    the governance panel's rules (``governance.panel``: who may record it, the
    members' views); quorate or not."""
    from pupilshare.governance import panel

    actor.require("record_panel", "record the panel")
    row = _get(session, agreement_id)
    if row.status != "submitted":
        raise Conflict(
            f"learner-service agreement {agreement_id} is {row.status}, not before "
            "the panel"
        )
    # the service's tables live in the governance database: one session reads both
    panel.check_recorder(session, actor, agreement_id, row.created_by)
    checked = panel.read_views(session, views, row.created_by)
    sitting = ServiceDecision(
        agreement_id=agreement_id,
        kind="panel",
        by=actor.username,
        at=at,
        outcome="quorate" if panel.quorate(checked) else "not quorate",
        reasons="",
        views=[
            {
                "member": v.member,
                "view": v.view,
                "reasons": v.reasons,
                "conflict": v.conflict,
            }
            for v in checked
        ],
    )
    session.add(sitting)
    session.flush()
    return sitting


def decide(
    session: Session,
    actor: Principal,
    agreement_id: str,
    approve: bool,
    reason: str,
    at: datetime,
) -> ServiceDecision:
    """The Chief Statistician's decision after a quorate panel, never on their own
    submission: approved makes the agreement active, rejected ends it."""
    actor.require("decide", "decide agreements")
    row = _get(session, agreement_id)
    if not reason.strip():
        raise InvalidInput("a decision needs its reasons")
    if row.status != "submitted":
        raise Conflict(
            f"learner-service agreement {agreement_id} is {row.status}; nothing "
            "to decide"
        )
    if actor.username == row.created_by:
        raise Conflict(
            f"{actor.username} submitted {agreement_id} and may not decide it"
        )
    if _latest(session, agreement_id, "panel") != "quorate":
        raise Conflict(f"{agreement_id} has no quorate panel review")
    d = ServiceDecision(
        agreement_id=agreement_id,
        kind="chief",
        by=actor.username,
        at=at,
        outcome="approved" if approve else "rejected",
        reasons=reason,
        views=[],
    )
    session.add(d)
    row.status = "active" if approve else "rejected"
    session.flush()
    return d


def list_agreements(session: Session, actor: Principal) -> list[ServiceAgreement]:
    actor.require("lrs_manage", "list learner-service agreements")
    return list(
        session.scalars(
            select(ServiceAgreement).order_by(ServiceAgreement.agreement_id)
        )
    )


# one statement, built once (every look-up runs it): the organisation's active
# agreement, and the abuse watch's open holds on the user (or on all its users)
_CALLER = (
    select(ServiceAgreement, Hold)
    .outerjoin(
        Hold,
        and_(
            Hold.org_id == ServiceAgreement.org_id,
            or_(Hold.username == bindparam("user"), Hold.username == ""),
            Hold.lifted_at.is_(None),
        ),
    )
    .where(
        ServiceAgreement.org_id == bindparam("org"),
        ServiceAgreement.status == "active",
        # a status alone is no approval: the Chief Statistician's decision is
        # behind it (a row edited to active, or made before decisions, is not)
        exists().where(
            ServiceDecision.agreement_id == ServiceAgreement.agreement_id,
            ServiceDecision.kind == "chief",
            ServiceDecision.outcome == "approved",
        ),
    )
)


def caller(session: Session, principal: Principal) -> Caller:
    """The principal under their organisation's active agreement; refused without
    one (denied by default)."""
    principal.require("lrs_use", "use the learner service")
    if not principal.signed_in:
        raise Denied(f"{principal.username} must sign in to use the learner service")
    found = session.execute(
        _CALLER, {"org": principal.org_id, "user": principal.username}
    ).all()
    if not found:
        raise Denied(
            f"{principal.org_id} has no active agreement for the learner service"
        )
    holds = tuple(h for _, h in found if h is not None)
    return Caller(principal, found[0][0], holds)
