"""What an organisation asks of the learner service: register a learner, verify a
ULN, find a learner by details. Each call is admitted by the abuse watch, answers
with only its agreement's items, and is recorded (``journal``) in the transaction
that makes the answer; then the watch counts it.

Answers, as JSON:

- register: ``matched`` (the existing ULN), ``issued`` (a new ULN),
  ``possible_match`` ("possible match, not returned": queued for review, case id
  only) or ``not_eligible`` (no ULN: under 14 and not registering for a post-14
  qualification);
- verify (ULN, surname, date of birth): ``match`` with the items, or ``no_match``,
  the same for an unknown ULN and a wrong surname or date: never a hint;
- details: ``match`` with the items, ``possible_match`` (nothing returned) or
  ``no_match``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from pupilshare.errors import InvalidInput
from pupilshare.identifiers import UlnIssuer, uln_problem
from pupilshare.lrs import journal, watch
from pupilshare.lrs.agreements import Caller
from pupilshare.lrs.details import Details, age_on, name_key, parse, parse_date
from pupilshare.lrs.matching import find
from pupilshare.lrs.models import Learner, Registration, ReviewCase, UlnState

FIRST_STEM = 500_000_000  # the service's own range; the match run issues from 1e8
POSSIBLE = "possible match, not returned"


def details_of(learner: Learner) -> dict[str, Any]:
    """The learner's details as a registration gives them (``details.parse``'s
    input): what an answer is cut from and a correction is checked against."""
    return {
        "forenames": learner.forenames,
        "surname": learner.surname,
        "date_of_birth": learner.date_of_birth.isoformat(),
        "sex": learner.sex,
        "postcode": learner.postcode,
        "upn": learner.upn,
    }


def items_of(learner: Learner, items: list[str]) -> dict[str, Any]:
    """Only the agreement's items (achievements are answered apart)."""
    full = {"uln": learner.uln, **details_of(learner)}
    return {k: full[k] for k in items if k in full}


def _answer_items(caller: Caller) -> list[str]:
    return [i for i in caller.agreement.items if i != "achievements"]


def new_uln(session: Session) -> str:
    """The next ULN of the service's range (its state row locked for the
    transaction), never one already on the register."""
    state = session.scalar(select(UlnState).where(UlnState.id == 1).with_for_update())
    if state is None:
        state = UlnState(id=1, next_stem=FIRST_STEM)
        session.add(state)
    while True:
        issuer = UlnIssuer(next_stem=state.next_stem)
        uln = issuer.issue()
        state.next_stem = issuer.next_stem
        if session.scalar(select(Learner.learner_id).where(Learner.uln == uln)) is None:
            return uln


def add_learner(
    session: Session,
    d: Details,
    uln: str,
    source: str,
    by: str,
    at: datetime,
    pupil_key: int | None = None,
) -> Learner:
    row = Learner(
        uln=uln,
        forenames=d.forenames,
        surname=d.surname,
        date_of_birth=d.date_of_birth,
        sex=d.sex,
        postcode=d.postcode,
        upn=d.upn,
        forename_key=d.forename_key,
        surname_key=d.surname_key,
        birth_year=d.date_of_birth.year,
        pupil_key=pupil_key,
        source=source,
        created_by=by,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return row


def _register_with(
    session: Session, caller: Caller, learner: Learner, at: datetime
) -> None:
    if not watch.unregistered(session, caller, learner.learner_id):
        return
    session.add(
        Registration(
            learner_id=learner.learner_id,
            org_id=caller.org_id,
            username=caller.username,
            at=at,
        )
    )


def register(
    session: Session,
    key: str,
    caller: Caller,
    raw: dict[str, Any],
    post14: bool,
    at: datetime,
) -> dict[str, Any]:
    d = parse(raw, at.date())
    watch.admit(session, key, caller, at)
    found = find(session, d)
    items = _answer_items(caller)
    if found.kind == "match":
        assert found.learner is not None
        learner = found.learner
        _register_with(session, caller, learner, at)
        row = journal.record(
            session,
            at,
            caller.org_id,
            caller.username,
            caller.agreement.agreement_id,
            "register",
            "matched",
            learner,
            items,
        )
        answer = {"outcome": "matched", "learner": items_of(learner, items)}
    elif found.kind == "possible":
        case = ReviewCase(
            org_id=caller.org_id,
            username=caller.username,
            at=at,
            details={**d.as_json(), "post14": post14},
            candidates=list(found.candidates),
        )
        session.add(case)
        session.flush()
        row = journal.record(
            session,
            at,
            caller.org_id,
            caller.username,
            caller.agreement.agreement_id,
            "register",
            "possible_match",
            None,
            [],
        )
        answer = {
            "outcome": "possible_match",
            "message": POSSIBLE,
            "case": case.case_id,
        }
    elif age_on(d.date_of_birth, at.date()) >= 14 or post14:
        learner = add_learner(
            session, d, new_uln(session), "register", caller.org_id, at
        )
        _register_with(session, caller, learner, at)
        row = journal.record(
            session,
            at,
            caller.org_id,
            caller.username,
            caller.agreement.agreement_id,
            "register",
            "issued",
            learner,
            items,
        )
        answer = {"outcome": "issued", "learner": items_of(learner, items)}
    else:
        row = journal.record(
            session,
            at,
            caller.org_id,
            caller.username,
            caller.agreement.agreement_id,
            "register",
            "not_eligible",
            None,
            [],
        )
        answer = {
            "outcome": "not_eligible",
            "message": "no ULN: the learner is under 14 and not registering for a "
            "post-14 qualification",
        }
    watch.observe(session, key, caller, row, at)
    return answer


_BY_ULN = select(Learner).where(Learner.uln == bindparam("uln"))  # built once


def verify(
    session: Session,
    key: str,
    caller: Caller,
    uln: str,
    surname: str,
    dob: str,
    at: datetime,
) -> dict[str, Any]:
    errors: list[str] = []
    uln = (uln or "").strip()
    if uln_problem(uln):
        errors.append("uln: not a valid ULN (10 digits, check digit)")
    if not name_key(surname or ""):
        errors.append("surname: required")
    born = parse_date("date_of_birth", dob, errors, at.date())
    if errors:
        raise InvalidInput("the verification request is not valid", errors)
    watch.admit(session, key, caller, at)
    learner = session.scalar(_BY_ULN, {"uln": uln})
    ok = (
        learner is not None
        and learner.surname_key == name_key(surname)
        and learner.date_of_birth == born
    )
    items = _answer_items(caller)
    row = journal.record(
        session,
        at,
        caller.org_id,
        caller.username,
        caller.agreement.agreement_id,
        "verify",
        "match" if ok else "no_match",
        learner if ok else None,
        items if ok else [],
    )
    watch.observe(session, key, caller, row, at)
    if not ok:
        return {"outcome": "no_match"}
    assert learner is not None
    return {"outcome": "match", "learner": items_of(learner, items)}


def search(
    session: Session, key: str, caller: Caller, raw: dict[str, Any], at: datetime
) -> dict[str, Any]:
    d = parse(raw, at.date())
    watch.admit(session, key, caller, at)
    found = find(session, d)
    items = _answer_items(caller)
    learner = found.learner if found.kind == "match" else None
    outcome = {"match": "match", "possible": "possible_match", "none": "no_match"}[
        found.kind
    ]
    recorded = outcome
    if learner is not None and watch.unregistered(session, caller, learner.learner_id):
        recorded = "unregistered"  # a match, of someone never registered here
    row = journal.record(
        session,
        at,
        caller.org_id,
        caller.username,
        caller.agreement.agreement_id,
        "details",
        recorded,
        learner,
        items if learner is not None else [],
    )
    watch.observe(session, key, caller, row, at)
    if learner is not None:
        return {"outcome": "match", "learner": items_of(learner, items)}
    if outcome == "possible_match":
        return {"outcome": "possible_match", "message": POSSIBLE}
    return {"outcome": "no_match"}


def today(at: datetime) -> date:
    return at.date()
