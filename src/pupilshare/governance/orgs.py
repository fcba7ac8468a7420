"""Recipients, their named users, and legal gateways: due diligence as records.

An organisation has a legal identity (a company or other registration number) and
named users. A change of its name, legal identity or ownership is recorded and
suspends every approved or active agreement it holds until the Chief Statistician
re-approves each one (a body once got access to a national learner register merely by
claiming to be the new name of an approved provider).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare import catalogue
from pupilshare.errors import Conflict, Denied, InvalidInput, NotFound
from pupilshare.governance.access import OPERATOR, PRIVILEGED, SECOND_FACTOR, Actor
from pupilshare.governance.models import (
    ORG_TYPES,
    ROLES,
    Agreement,
    Credential,
    Gateway,
    Organisation,
    OrgChange,
    User,
    UserChange,
)
from pupilshare.governance.terms import ID_PATTERN
from pupilshare.governance.workflow import move, now
from pupilshare.plan import LEVELS

IDENTITY = ("name", "legal_id", "owner")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,63}$")


def get_org(session: Session, org_id: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no organisation {org_id!r}")
    return org


def add_org(
    session: Session,
    actor: Actor,
    org_id: str,
    name: str,
    org_type: str,
    legal_id: str,
    owner: str = "",
    website: str = "",
    min_pupil_age: int | None = None,
) -> Organisation:
    actor.require("manage_orgs", "add organisations")
    errors = [] if ID_PATTERN.match(org_id) else ["id: lower-case letters, digits, -"]
    if org_type not in ORG_TYPES:
        errors.append(f"type {org_type!r} is not one of: {', '.join(ORG_TYPES)}")
    if not legal_id.strip():
        errors.append("an organisation needs a legal identity (e.g. company number)")
    if session.get(Organisation, org_id) is not None:
        raise Conflict(f"organisation {org_id} exists")
    if errors:
        raise InvalidInput(f"organisation {org_id} refused", errors)
    org = Organisation(
        org_id=org_id,
        name=name,
        org_type=org_type,
        legal_id=legal_id,
        owner=owner,
        website=website,
        min_pupil_age=min_pupil_age,
        status="active",
        created_at=now(),
    )
    session.add(org)
    session.flush()
    return org


def change_identity(
    session: Session, actor: Actor, org_id: str, field: str, value: str, reason: str
) -> list[str]:
    """Record a change of name, legal identity or ownership; suspend the
    organisation and its live agreements. Returns the agreements suspended."""
    actor.require("manage_orgs", "change organisations")
    if field not in IDENTITY:
        raise InvalidInput(f"field must be one of {', '.join(IDENTITY)}")
    org = get_org(session, org_id)
    old = getattr(org, field)
    if old == value:
        raise InvalidInput(f"{org_id} already has {field} {value!r}")
    session.add(
        OrgChange(
            org_id=org_id,
            field=field,
            old=old,
            new=value,
            changed_by=actor.username,
            changed_at=now(),
            reason=reason,
        )
    )
    setattr(org, field, value)
    org.status = "suspended"
    live = session.scalars(
        select(Agreement).where(
            Agreement.org_id == org_id, Agreement.status.in_(("approved", "active"))
        )
    ).all()
    for ag in live:
        move(
            session,
            ag,
            "suspended",
            actor,
            f"recipient's {field} changed from {old!r} to {value!r}; re-approval "
            "needed",
        )
    session.flush()
    return [ag.agreement_id for ag in live]


def reinstate_org(session: Session, actor: Actor, org_id: str, reason: str) -> None:
    """The Chief Statistician confirms the changed identity; agreements stay
    suspended until each is re-approved by a decision."""
    actor.require("decide", "re-approve an organisation's identity")
    org = get_org(session, org_id)
    if org.status != "suspended":
        raise Conflict(f"{org_id} is {org.status}, not suspended")
    org.status = "active"
    session.add(
        OrgChange(
            org_id=org_id,
            field="status",
            old="suspended",
            new="active",
            changed_by=actor.username,
            changed_at=now(),
            reason=reason,
        )
    )


def changes_of(session: Session, org_id: str) -> list[OrgChange]:
    return list(
        session.scalars(
            select(OrgChange)
            .where(OrgChange.org_id == org_id)
            .order_by(OrgChange.change_id)
        )
    )


def _may_grant(session: Session, actor: Actor, username: str, roles: list[str]) -> None:
    if [r for r in roles if r not in ROLES]:
        raise InvalidInput(f"roles must be among: {', '.join(ROLES)}")
    if username == actor.username:
        raise Denied(f"{actor.username} may not change their own roles")
    may_manage(session, actor, roles)


def may_manage(session: Session, actor: Actor, roles: list[str]) -> None:
    """May ``actor`` grant these roles, or manage the credentials of a user holding
    them? Users are data operations' to manage, but a role that needs a second
    factor is granted only by a signed-in principal, and the roles that decide
    (panel member, Chief Statistician) only by the signed-in Chief Statistician.
    Setting up a home, before any Chief Statistician can sign in, data operations
    (the local operator too) may grant every role: someone has to make the first
    Chief Statistician."""
    if SECOND_FACTOR.isdisjoint(roles) or not chief_can_sign_in(session):
        actor.require("manage_users", "manage users")
    elif not PRIVILEGED.isdisjoint(roles):
        actor.require(
            "grant_privileged", "grant or manage panel or Chief Statistician roles"
        )
    else:
        actor.require("manage_users", "manage users")
        if not actor.signed_in:
            who = actor.username if actor.named else "the local operator"
            raise Denied(
                f"{who} may not grant or manage data operations roles "
                "without signing in"
            )


def chief_can_sign_in(session: Session) -> bool:
    """Is there an active Chief Statistician with a password?"""
    rows = session.execute(
        select(User.roles)
        .join(Credential, Credential.username == User.username)
        .where(User.active == 1, Credential.password_hash.is_not(None))
    )
    return any("chief_statistician" in (roles or []) for (roles,) in rows)


def _record(
    session: Session, actor: Actor, user: User, before: list[str], reason: str
) -> None:
    session.add(
        UserChange(
            username=user.username,
            roles_before=before,
            roles_after=list(user.roles),
            active=user.active,
            changed_by=actor.username,
            changed_at=now(),
            reason=reason,
        )
    )


def add_user(
    session: Session,
    actor: Actor,
    username: str,
    full_name: str,
    org_id: str,
    roles: list[str],
    reason: str = "added",
) -> User:
    """A named user of an organisation (never an organisation-wide login)."""
    if not roles:
        raise InvalidInput("a user needs at least one role")
    if not USERNAME.match(username):
        raise InvalidInput("user names are lower-case letters, digits, '.', '-'")
    if username == OPERATOR or session.get(User, username) is not None:
        raise Conflict(f"user name {username} is taken")
    _may_grant(session, actor, username, roles)
    get_org(session, org_id)
    user = User(
        username=username,
        full_name=full_name,
        org_id=org_id,
        roles=list(roles),
        active=1,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    _record(session, actor, user, [], reason)
    return user


def set_roles(
    session: Session,
    actor: Actor,
    username: str,
    roles: list[str],
    active: bool = True,
    reason: str = "",
) -> User:
    user = session.get(User, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    _may_grant(session, actor, username, [*roles, *user.roles])
    before = list(user.roles)
    user.roles, user.active = list(roles), int(active)
    _record(session, actor, user, before, reason)
    return user


def add_gateway(session: Session, actor: Actor, spec: dict[str, Any]) -> Gateway:
    """A legal gateway; its levels and datasets are checked against the catalogue."""
    actor.require("manage_gateways", "add gateways")
    errors = [
        f"{k}: required"
        for k in ("id", "title", "statute", "section", "allows", "levels", "datasets")
        if not spec.get(k)
    ]
    if not ID_PATTERN.match(str(spec.get("id", ""))):
        errors.append("id: lower-case letters, digits and hyphens only")
    errors += [
        f"level {lv!r} unknown" for lv in spec.get("levels") or [] if lv not in LEVELS
    ]
    errors += [
        f"dataset {d!r} unknown"
        for d in spec.get("datasets") or []
        if d not in catalogue.DATASETS
    ]
    if errors:
        raise InvalidInput(f"gateway {spec.get('id', '?')} refused", errors)
    if session.get(Gateway, spec["id"]) is not None:
        raise Conflict(f"gateway {spec['id']} exists")
    gw = Gateway(
        gateway_id=spec["id"],
        title=spec["title"],
        statute=spec["statute"],
        section=spec["section"],
        allows=" ".join(spec["allows"].split()),
        levels=list(spec["levels"]),
        datasets=list(spec["datasets"]),
        min_age=spec.get("min_age"),
        max_age=spec.get("max_age"),
        added_by=actor.username,
    )
    session.add(gw)
    session.flush()
    return gw


def confirm_gateway(session: Session, actor: Actor, gateway_id: str) -> Gateway:
    """The Chief Statistician confirms a gateway; until then no agreement is
    submitted or decided under it. Whoever added it may not confirm it."""
    actor.require("confirm_gateway", "confirm legal gateways")
    gw = session.get(Gateway, gateway_id)
    if gw is None:
        raise NotFound(f"no gateway {gateway_id!r}")
    if gw.confirmed_by is not None:
        raise Conflict(f"gateway {gateway_id} was confirmed by {gw.confirmed_by}")
    if gw.added_by == actor.username:
        raise Conflict(
            f"{actor.username} added gateway {gateway_id} and may not confirm it"
        )
    gw.confirmed_by, gw.confirmed_at = actor.username, now()
    session.flush()
    return gw
