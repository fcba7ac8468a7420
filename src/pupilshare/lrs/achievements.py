"""Achievements: awarding organisations submit results against ULNs; they join
the learner's personal learning record (PLR). An organisation sees a learner's
achievements only with that learner's consent in force for it, and never while the
learner has opted out of achievement sharing (on their own page, or through data
operations' opt-outs of type ``learning_records``).

A submission is checked whole before anything is written (all or nothing, like
``collect``): each row names the learner by ULN, surname and date of birth, and a
row whose three do not fit one learner is refused with the same reason whether the
ULN is unknown or the name or date is wrong. Errors are ``file:line:field:reason``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import Denied, InvalidInput
from pupilshare.identifiers import uln_problem
from pupilshare.lrs import journal, watch
from pupilshare.lrs.agreements import Caller
from pupilshare.lrs.details import name_key, parse_date
from pupilshare.lrs.models import (
    Achievement,
    Consent,
    Learner,
    OptOut,
    Registration,
    RightsOptOut,
)

COLUMNS = (
    "uln",
    "surname",
    "date_of_birth",
    "qualification",
    "subject",
    "grade",
    "awarded_on",
)
MAX_ROWS = 100_000
NOT_FOUND = "no learner with this ULN, surname and date of birth"


def rows_from_csv(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    """``(where, row)`` pairs of a CSV upload (header on line 1)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            "the file is missing columns",
            [f"{name}:1:{c}:missing column" for c in missing],
        )
    out = []
    for n, row in enumerate(reader, start=2):
        if len(out) >= MAX_ROWS:
            raise InvalidInput(f"{name}: more than {MAX_ROWS} rows; split the file")
        out.append((f"{name}:{n}", row))
    return out


def _fields(row: dict[str, Any], at: datetime) -> tuple[list[str], str, Any]:
    """A row's problems that need no look-up, its ULN and its date of birth."""
    bad: list[str] = []
    uln = str(row.get("uln") or "").strip()
    if uln_problem(uln):
        bad.append("uln:not a valid ULN (10 digits, check digit)")
    born = parse_date("date_of_birth", row.get("date_of_birth"), [], at.date())
    if born is None:
        bad.append("date_of_birth:not a date (YYYY-MM-DD)")
    for f, most in (("qualification", 200), ("subject", 200), ("grade", 20)):
        v = " ".join(str(row.get(f) or "").split())
        if not v:
            bad.append(f"{f}:required")
        elif len(v) > most:
            bad.append(f"{f}:longer than {most} characters")
    if parse_date("awarded_on", row.get("awarded_on"), [], at.date()) is None:
        bad.append("awarded_on:not a date (YYYY-MM-DD), or in the future")
    return bad, uln, born


def _learners(session: Session, ulns: set[str]) -> dict[str, Learner]:
    """The learners with these ULNs, a thousand to a statement (a batch of
    100,000 rows is 100 statements, not 100,000)."""
    wanted = sorted(ulns)
    found: dict[str, Learner] = {}
    for i in range(0, len(wanted), watch.IN_CHUNK):
        for learner in session.scalars(
            select(Learner).where(Learner.uln.in_(wanted[i : i + watch.IN_CHUNK]))
        ):
            found[learner.uln] = learner
    return found


def _check(
    session: Session, rows: list[tuple[str, dict[str, Any]]], at: datetime
) -> tuple[list[tuple[dict[str, Any], Learner | None]], list[str]]:
    """Each row with its learner (None when refused), and every problem as
    ``where:field:reason``: the fields first, then one set-based look-up of
    the ULNs of the rows that passed them."""
    fields = [(where, row, *_fields(row, at)) for where, row in rows]
    learners = _learners(session, {uln for _, _, bad, uln, _ in fields if not bad})
    checked, errors = [], []
    for where, row, bad, uln, born in fields:
        learner = None if bad else learners.get(uln)
        if not bad and (
            learner is None
            or learner.surname_key != name_key(str(row.get("surname") or ""))
            or learner.date_of_birth != born
        ):
            bad.append(f"uln:{NOT_FOUND}")
            learner = None
        errors.extend(f"{where}:{b}" for b in bad)
        checked.append((row, learner))
    return checked, errors


def submit(
    session: Session,
    key: str,
    caller: Caller,
    rows: list[tuple[str, dict[str, Any]]],
    batch: str,
    at: datetime,
) -> dict[str, Any]:
    if not caller.awarding:
        raise Denied(f"{caller.org_id} is not an awarding organisation")
    watch.admit(session, key, caller, at)
    checked, errors = _check(session, rows, at)
    if errors:
        raise InvalidInput(
            f"nothing was loaded: {len(errors)} problems in {len(rows)} rows", errors
        )
    if not rows:
        raise InvalidInput("no achievements were sent")
    known = watch.registered_among(
        session, caller.org_id, {lr.learner_id for _, lr in checked if lr is not None}
    )
    learners: set[int] = set()
    for row, learner in checked:
        assert learner is not None
        session.add(
            Achievement(
                learner_id=learner.learner_id,
                org_id=caller.org_id,
                qualification=" ".join(str(row["qualification"]).split()),
                subject=" ".join(str(row["subject"]).split()),
                grade=" ".join(str(row["grade"]).split()),
                awarded_on=datetime.fromisoformat(str(row["awarded_on"])).date(),
                batch=batch,
                submitted_by=caller.username,
                submitted_at=at,
            )
        )
        learners.add(learner.learner_id)
        if learner.learner_id not in known:  # never registered with the org
            session.add(
                Registration(
                    learner_id=learner.learner_id,
                    org_id=caller.org_id,
                    username=caller.username,
                    at=at,
                )
            )
        known.add(learner.learner_id)
    session.flush()
    return {"outcome": "loaded", "achievements": len(rows), "learners": len(learners)}


def consent_in_force(session: Session, learner_id: int, org_id: str) -> bool:
    last = session.scalar(
        select(Consent.granted)
        .where(Consent.learner_id == learner_id, Consent.org_id == org_id)
        .order_by(Consent.consent_id.desc())
        .limit(1)
    )
    return bool(last)


def opted_out(session: Session, learner_id: int) -> bool:
    if session.get(RightsOptOut, learner_id) is not None:
        return True
    last = session.scalar(
        select(OptOut.opted_out)
        .where(OptOut.learner_id == learner_id)
        .order_by(OptOut.optout_id.desc())
        .limit(1)
    )
    return bool(last)


def of_learner(session: Session, learner_id: int) -> list[dict[str, Any]]:
    return [
        {
            "qualification": a.qualification,
            "subject": a.subject,
            "grade": a.grade,
            "awarded_on": a.awarded_on.isoformat(),
            "source": a.org_id,
        }
        for a in session.scalars(
            select(Achievement)
            .where(Achievement.learner_id == learner_id)
            .order_by(Achievement.awarded_on, Achievement.achievement_id)
        )
    ]


def shared(
    session: Session,
    key: str,
    caller: Caller,
    uln: str,
    surname: str,
    dob: str,
    at: datetime,
) -> dict[str, Any]:
    """A learner's achievements for an organisation: only under an agreement that
    lists them, with the learner's consent for it, and no opt-out."""
    if "achievements" not in caller.agreement.items:
        raise Denied(f"{caller.agreement.agreement_id} does not include achievements")
    errors: list[str] = []
    if uln_problem((uln or "").strip()):
        errors.append("uln: not a valid ULN (10 digits, check digit)")
    born = parse_date("date_of_birth", dob, errors, at.date())
    if errors:
        raise InvalidInput("the request is not valid", errors)
    watch.admit(session, key, caller, at)
    learner = session.scalar(select(Learner).where(Learner.uln == uln.strip()))
    if (
        learner is None
        or learner.surname_key != name_key(surname or "")
        or learner.date_of_birth != born
    ):
        learner = None
    allowed = (
        learner is not None
        and consent_in_force(session, learner.learner_id, caller.org_id)
        and not opted_out(session, learner.learner_id)
    )
    outcome = "shared" if allowed else ("no_match" if learner is None else "not_shared")
    row = journal.record(
        session,
        at,
        caller.org_id,
        caller.username,
        caller.agreement.agreement_id,
        "achievements",
        outcome,
        learner if allowed else None,
        ["achievements"] if allowed else [],
    )
    watch.observe(session, key, caller, row, at)
    if not allowed:
        # no hint whether the learner exists, withheld consent, or opted out
        return {
            "outcome": "not_shared",
            "message": "no achievements can be shared for these details",
        }
    assert learner is not None
    return {
        "outcome": "shared",
        "uln": learner.uln,
        "achievements": of_learner(session, learner.learner_id),
    }
