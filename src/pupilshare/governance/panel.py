"""The approval panel as it works: who sat, whether it was quorate, each member's view
with reasons, declared conflicts of interest and the conditions it attached.

A member with a conflict is recorded as present but their view does not count
towards quorum; a member who submitted the agreement is conflicted whatever they say,
and whoever submitted it (or proposed the amendment) may not record the sitting.
The unnamed local operator is whoever runs commands on the home without signing in,
that is anyone in data operations: where it submitted or records, no one of data
operations may do the other, or the separation of duties could not be shown.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import Conflict, InvalidInput
from pupilshare.governance import terms as T
from pupilshare.governance.access import OPERATOR, PERMISSIONS, Actor
from pupilshare.governance.models import Amendment, PanelReview, PanelView, User
from pupilshare.governance.workflow import as_decided, digest_of, get, now
from pupilshare.identity.records import chain_of

QUORUM = 3
VIEWS = ("approve", "reject", "abstain")


def record(
    session: Session,
    actor: Actor,
    agreement_id: str,
    views: list[dict[str, Any]],
    conditions: list[str] | None = None,
    amendment_id: int | None = None,
    quorum: int = QUORUM,
) -> PanelReview:
    """Record one sitting; ``views`` are ``{member, view, reasons, conflict}``."""
    actor.require("record_panel", "record the panel")
    ag = get(session, agreement_id)
    submitter = ag.submitted_by
    sat_on = digest_of(ag)
    if amendment_id is not None:
        am = session.get(Amendment, amendment_id)
        if am is None or am.agreement_id != agreement_id or am.status != "submitted":
            raise Conflict(
                f"no amendment {amendment_id} awaiting the panel on {agreement_id}"
            )
        submitter = am.proposed_by
        as_decided(session, ag)  # an amendment changes the approved terms only
        sat_on = T.digest(T.apply_diff(ag.spec, am.diff))
    elif ag.status != "submitted":
        raise Conflict(f"agreement {agreement_id} is {ag.status}, not before the panel")
    check_recorder(session, actor, agreement_id, submitter)
    rows = read_views(session, views, submitter)
    review = PanelReview(
        agreement_id=agreement_id,
        amendment_id=amendment_id,
        held_at=now(),
        recorded_by=actor.username,
        quorum=quorum,
        quorate=int(quorate(rows, quorum)),
        conditions=list(conditions or []),
        terms_digest=sat_on,
    )
    session.add(review)
    session.flush()
    for r in rows:
        r.review_id = review.review_id
        session.add(r)
    session.flush()
    return review


def quorate(rows: list[PanelView], quorum: int = QUORUM) -> bool:
    """Enough members' views counted (a conflicted member's does not count)."""
    return sum(1 for r in rows if r.view != "conflicted") >= quorum


def check_recorder(
    session: Session, actor: Actor, agreement_id: str, submitter: str
) -> None:
    """The separation of duties for whoever records a panel's sitting on
    ``agreement_id`` (any agreement: the governance records' or the learner
    service's), submitted by ``submitter``: ``Conflict`` if it may be them."""
    if actor.username == submitter:  # separation of duties
        raise Conflict(
            f"{actor.username} submitted {agreement_id} and may not record its panel"
        )
    if not actor.named and _may_be_operator(session, submitter):
        raise Conflict(
            f"{submitter} submitted {agreement_id} and may be the unnamed local "
            "operator, so may not record its panel: another officer records it, "
            "signed in by name"
        )
    if submitter == OPERATOR and "data_operations" in actor.roles:
        raise Conflict(
            f"the unnamed local operator submitted {agreement_id} and may be "
            f"{actor.username}: someone outside data operations records its panel, "
            "signed in by name"
        )
    if (
        actor.named
        and submitter != OPERATOR
        and actor.username in chain_of(session, submitter)
    ):
        raise Conflict(
            f"{actor.username} and {submitter}, who submitted {agreement_id}, are one "
            "chain of accounts (one created or changed the other's roles or "
            "credentials, directly or through accounts made so), so may be one "
            "person: another officer records its panel"
        )


def read_views(
    session: Session, views: list[dict[str, Any]], submitter: str
) -> list[PanelView]:
    """The members' views, checked (panel members, once each, reasons given; the
    submitter's own view is conflicted); ``InvalidInput`` with every problem."""
    errors: list[str] = []
    rows: list[PanelView] = []
    seen: set[str] = set()
    for v in views:
        member, view = str(v.get("member", "")), str(v.get("view", ""))
        user = session.get(User, member)
        if user is None or not set(user.roles) & PERMISSIONS["sit_on_panel"]:
            errors.append(f"{member}: not a member of the approval panel")
            continue
        if member in seen:
            errors.append(f"{member}: recorded twice")
        seen.add(member)
        conflict = str(v.get("conflict") or "")
        if member == submitter and not conflict:
            conflict = "submitted this application"
        if conflict:
            view = "conflicted"
        elif view not in VIEWS:
            errors.append(f"{member}: view must be one of {', '.join(VIEWS)}")
        elif not str(v.get("reasons") or "").strip():
            errors.append(f"{member}: a view needs its reasons")
        rows.append(
            PanelView(
                member=member,
                view=view,
                conflict=conflict,
                reasons=str(v.get("reasons") or ""),
            )
        )
    if errors:
        raise InvalidInput("panel record refused", errors)
    return rows


def _may_be_operator(session: Session, username: str) -> bool:
    """Whether ``username`` could have acted as the unnamed local operator: it is
    the operator, or holds data operations (which the operator stands for)."""
    if username == OPERATOR:
        return True
    user = session.get(User, username)
    return user is None or "data_operations" in (user.roles or ())


def views_of(session: Session, review_id: int) -> list[PanelView]:
    return list(
        session.scalars(
            select(PanelView)
            .where(PanelView.review_id == review_id)
            .order_by(PanelView.view_id)
        )
    )


def reviews_of(session: Session, agreement_id: str) -> list[PanelReview]:
    return list(
        session.scalars(
            select(PanelReview)
            .where(PanelReview.agreement_id == agreement_id)
            .order_by(PanelReview.review_id)
        )
    )
