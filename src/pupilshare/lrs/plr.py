"""The learner's own record: their personal learning record (PLR) and what they
may do with it. A learner of 14 or over signs in with the service's identity (a
``learner`` user linked to their ULN by data operations) and sees their details,
their achievements with the organisation that awarded each, which organisations
looked them up and when (from the ledger, and answers recorded but not yet sealed),
and who may see their achievements; they can ask for a detail to be corrected,
grant or withdraw an organisation's access, and opt out of achievement sharing.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pupilshare.errors import Conflict, Denied, InvalidInput, NotFound
from pupilshare.governance import Principal
from pupilshare.lrs.achievements import consent_in_force, of_learner, opted_out
from pupilshare.lrs.details import age_on, name_key
from pupilshare.lrs.models import (
    Consent,
    Correction,
    Learner,
    Lookup,
    OptOut,
    RightsOptOut,
    ServiceAgreement,
)

MIN_AGE = 14
PASSED_ON_BY = "learner service"
FIELDS = ("forenames", "surname", "date_of_birth", "sex", "postcode")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{2,63}$")


def learner_of(session: Session, who: Principal, today: date) -> Learner:
    who.require("lrs_own_record", "see a personal learning record")
    row = session.scalar(select(Learner).where(Learner.username == who.username))
    if row is None:
        raise NotFound(f"{who.username} has no learning record")
    if age_on(row.date_of_birth, today) < MIN_AGE:
        raise Denied("learners see their own record from the age of 14")
    return row


def link_account(
    session: Session, actor: Principal, uln: str, username: str, today: date
) -> Learner:
    actor.require("lrs_manage", "link a learner's account")
    row = session.scalar(select(Learner).where(Learner.uln == uln))
    if row is None:
        raise NotFound("no learner with this ULN")
    if age_on(row.date_of_birth, today) < MIN_AGE:
        raise InvalidInput("learners have an account from the age of 14")
    if row.username:
        raise Conflict("this learner already has an account")
    if not USERNAME.match(username):
        raise InvalidInput("user names are lower-case letters, digits, '.', '-'")
    row.username = username
    return row


def organisations(session: Session) -> list[dict[str, str]]:
    return [
        {"org_id": a.org_id, "purpose": a.purpose}
        for a in session.scalars(
            select(ServiceAgreement)
            .where(ServiceAgreement.status == "active")
            .order_by(ServiceAgreement.org_id)
        )
        if "achievements" in (a.items or [])
    ]


def record(
    session: Session, learner: Learner, sealed: list[dict[str, Any]]
) -> dict[str, Any]:
    """The PLR page's data; ``sealed`` are the ledger's entries about them."""
    seen = {e.get("release_id") for e in sealed}
    pending = [
        {
            "at": r.at.isoformat(timespec="seconds"),
            "organisation": r.org_id,
            "action": r.action,
            "sealed": False,
        }
        for r in session.scalars(
            select(Lookup)
            .where(Lookup.learner_id == learner.learner_id)
            .order_by(Lookup.lookup_id)
        )
        if f"lrs-lookup-{r.lookup_id}" not in seen
    ]
    lookups = [
        {
            "at": str(e.get("created_at", "")),
            "organisation": str(e.get("recipient", "")),
            "action": str(e.get("action", e.get("kind", ""))),
            "sealed": True,
            "ledger_index": e.get("index"),
        }
        for e in sealed
    ] + pending
    orgs = organisations(session)
    return {
        "learner": {
            "uln": learner.uln,
            "forenames": learner.forenames,
            "surname": learner.surname,
            "date_of_birth": learner.date_of_birth.isoformat(),
            "sex": learner.sex,
            "postcode": learner.postcode,
        },
        "achievements": of_learner(session, learner.learner_id),
        "lookups": sorted(lookups, key=lambda x: x["at"], reverse=True),
        "access": [
            {**o, "granted": consent_in_force(session, learner.learner_id, o["org_id"])}
            for o in orgs
        ],
        "opted_out": opted_out(session, learner.learner_id),
        "opted_out_by_rights": session.get(RightsOptOut, learner.learner_id)
        is not None,
        "corrections": [
            {
                "field": c.field,
                "value": c.value,
                "at": c.at.isoformat(timespec="seconds"),
                "status": c.status,
                "note": c.note or "",
                "decided_at": c.decided_at.isoformat(timespec="seconds")
                if c.decided_at
                else "",
            }
            for c in session.scalars(
                select(Correction)
                .where(Correction.learner_id == learner.learner_id)
                .order_by(Correction.correction_id)
            )
        ],
    }


def set_access(
    session: Session, learner: Learner, who: str, org_id: str, grant: bool, at: datetime
) -> None:
    if org_id not in {o["org_id"] for o in organisations(session)}:
        raise InvalidInput("org: not an organisation that may be granted access")
    session.add(
        Consent(
            learner_id=learner.learner_id,
            org_id=org_id,
            granted=int(grant),
            at=at,
            by=who,
        )
    )


def set_opt_out(
    session: Session, learner: Learner, who: str, opt_out: bool, at: datetime
) -> None:
    session.add(
        OptOut(learner_id=learner.learner_id, opted_out=int(opt_out), at=at, by=who)
    )


def request_correction(
    session: Session,
    learner: Learner,
    field: str,
    value: str,
    reason: str,
    at: datetime,
) -> None:
    errors = []
    if field not in FIELDS:
        errors.append(f"field: one of {', '.join(FIELDS)}")
    value = " ".join((value or "").split())
    if not value or len(value) > 200:
        errors.append("value: 1 to 200 characters")
    if len(reason or "") > 2000:
        errors.append("reason: at most 2000 characters")
    if errors:
        raise InvalidInput("the correction request is not valid", errors)
    session.add(
        Correction(
            learner_id=learner.learner_id,
            field=field,
            value=value,
            reason=reason or "",
            at=at,
            status="open",
        )
    )


def refresh_rights(
    session: Session, optouts: list[dict[str, Any]], at: datetime
) -> int:
    """Replace the snapshot of the rights area's learning-record opt-outs."""
    ids: dict[int, datetime] = {}
    for o in optouts:
        if o.get("by") == PASSED_ON_BY:
            continue  # the learner's own, given here: ``OptOut`` holds it
        q = None
        if o.get("uln"):
            q = select(Learner.learner_id).where(Learner.uln == o["uln"])
        elif o.get("pupil_key") is not None:
            q = select(Learner.learner_id).where(
                Learner.pupil_key == int(o["pupil_key"])
            )
        elif o.get("upn") and o.get("date_of_birth"):
            q = select(Learner.learner_id).where(
                Learner.upn == o["upn"],
                Learner.date_of_birth == date.fromisoformat(str(o["date_of_birth"])),
                Learner.surname_key == name_key(str(o.get("surname") or "")),
            )
        if q is None:
            continue
        for lid in session.scalars(q):
            since = o.get("since")
            ids[lid] = since if isinstance(since, datetime) else at
    session.execute(delete(RightsOptOut))
    for lid, since in ids.items():
        session.add(RightsOptOut(learner_id=lid, since=since))
    return len(ids)


def pass_on(
    session: Session,
    store: object,
    record_opt_out: object,
    current: list[dict[str, Any]],
) -> int:
    """Pass each learner's newest own choice (opted out, or back in) to the rights
    area, so releases under the ``learning_records`` scope honour it too. Opting
    back in withdraws only a registration the learner's own choice made, never one
    data operations recorded (``current``: the rights area's registrations)."""
    from pupilshare import rights
    from pupilshare.errors import PupilshareError

    rows = list(
        session.scalars(
            select(OptOut).where(OptOut.passed_on == 0).order_by(OptOut.optout_id)
        )
    )
    newest = {row.learner_id: row for row in rows}
    held = {str(o.get("uln")): o.get("by") for o in current if o.get("uln")}
    for learner_id, row in newest.items():
        learner = session.get(Learner, learner_id)
        if learner is None:
            continue
        by = held.get(learner.uln)
        if row.opted_out and by is not None:
            continue  # already registered
        if not row.opted_out and by != PASSED_ON_BY:
            continue  # nothing of the learner's own to withdraw
        who = rights.subject(
            learner.forenames.split()[0],
            learner.surname,
            learner.date_of_birth.isoformat(),
            learner.upn,
            learner.uln,
        )
        try:
            record_opt_out(  # type: ignore[operator]
                store,
                who,
                "learning_records",
                "add" if row.opted_out else "withdraw",
                "pupil",
                f"{learner.forenames} {learner.surname}",
                "signed in to the learner service",
                PASSED_ON_BY,
            )
        except PupilshareError:
            pass  # the learner's own choice still holds here
    for row in rows:
        row.passed_on = 1
    return len(rows)
