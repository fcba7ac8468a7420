"""Opt-outs, modelled on the health service's national data opt-out.

Held apart from the pupil record: ``optout_events`` keeps every registration and
withdrawal as given (the identifiers, who asked, how their identity was checked, who
recorded it, when), never updated. ``opt_outs(pupil_key, scope, recorded_at)``, the
table every release anti-joins, is derived from the events: the current opt-outs whose
identifiers fit exactly one pupil. It is rebuilt before every release, so an opt-out
given before its pupil was matched applies as soon as the pupil is.

Types are the purposes a person may refuse (``TYPES``); uses under a legal duty
(inspection, the department's statistics) are not opt-out scopes, and an agreement can
carry an exemption, set by a named Chief Statistician, that overrides opt-outs for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pupilshare.errors import Conflict, InvalidInput
from pupilshare.plan import OPT_OUT_TYPES
from pupilshare.rights.identity import Subject, check_requester, resolve_sql
from pupilshare.store import Store

TYPES = OPT_OUT_TYPES  # the purposes a person may refuse (``plan``: one place)
DDL = (
    "CREATE TABLE IF NOT EXISTS optout_events (event_id BIGINT NOT NULL, "
    "action VARCHAR NOT NULL, optout_type VARCHAR NOT NULL, subject VARCHAR NOT "
    "NULL, upn VARCHAR, uln VARCHAR, forename VARCHAR, surname VARCHAR, "
    "date_of_birth DATE, requester VARCHAR NOT NULL, requester_name VARCHAR, "
    "identity_check VARCHAR NOT NULL, recorded_by VARCHAR NOT NULL, "
    "recorded_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS optout_exemptions (agreement_id VARCHAR NOT NULL, "
    "approver VARCHAR NOT NULL, legal_duty VARCHAR NOT NULL, "
    "recorded_at TIMESTAMP NOT NULL, withdrawn_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS opt_outs (pupil_key BIGINT NOT NULL, "
    "scope VARCHAR NOT NULL, recorded_at TIMESTAMP DEFAULT current_timestamp)",
)


def ensure(store: Store) -> None:
    for ddl in DDL:
        store.rows(ddl)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def state_sql(at: str = "current_timestamp") -> str:
    """Registrations in force at ``at`` (SQL timestamp): the newest event per person
    and type is an ``add``; ``since`` is when that add was recorded."""
    return f"""
        SELECT subject, optout_type, upn, uln, forename, surname, date_of_birth,
               recorded_at AS since
        FROM optout_events WHERE recorded_at <= {at}
        QUALIFY row_number() OVER (PARTITION BY subject, optout_type
                                   ORDER BY recorded_at DESC, event_id DESC) = 1
            AND action = 'add'"""


def refresh(store: Store) -> int:
    """Rebuild ``opt_outs`` from the registrations in force; returns how many
    registrations are still waiting for their pupil to be matched."""
    ensure(store)
    with store.transaction():
        store.rows("DELETE FROM opt_outs")
        store.rows(f"CREATE OR REPLACE TEMP TABLE _optout_state AS {state_sql()}")
        if not store.exists("pupils"):
            return int(store.one("SELECT count(*) FROM _optout_state") or 0)
        resolved = resolve_sql("_optout_state", store.exists("pupil_identifiers"))
        store.rows(f"""
            INSERT INTO opt_outs
            SELECT r.pupil_key, s.optout_type, s.since FROM _optout_state s
            JOIN ({resolved}) r ON r.subject = s.subject
            WHERE r.matches = 1""")
        return int(
            store.one(f"""
            SELECT count(*) FROM _optout_state s WHERE s.subject NOT IN (
                SELECT subject FROM ({resolved}) r
                WHERE r.matches = 1)""")
            or 0
        )


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str
    matched: bool


def record(
    store: Store,
    who: Subject,
    optout_type: str,
    action: str,
    requester: str,
    requester_name: str,
    identity_check: str,
    recorded_by: str,
    today: date | None = None,
) -> Outcome:
    """Add or withdraw one opt-out; repeating one that is already so changes nothing."""
    if optout_type not in TYPES:
        raise InvalidInput(
            f"unknown opt-out type {optout_type!r}; one of " + ", ".join(TYPES)
        )
    if action not in ("add", "withdraw"):
        raise InvalidInput(f"unknown action {action!r}")
    if not identity_check.strip():
        raise InvalidInput(
            "say how the requester's identity was checked (--identity-check)"
        )
    check_requester(who, requester, today)
    ensure(store)
    with store.transaction():
        active = store.one(
            f"SELECT count(*) FROM ({state_sql()}) s WHERE subject = ? "
            "AND optout_type = ?",
            [who.key, optout_type],
        )
        if (action == "add") == bool(active):
            state = "already registered" if active else "no opt-out to withdraw"
            refresh(store)
            return Outcome(
                False, f"{optout_type}: {state}; nothing changed", _matched(store, who)
            )
        next_id = store.one("SELECT coalesce(max(event_id), 0) + 1 FROM optout_events")
        store.rows(
            "INSERT INTO optout_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?)",
            [
                next_id,
                action,
                optout_type,
                who.key,
                who.upn,
                who.uln,
                who.forename,
                who.surname,
                who.date_of_birth,
                requester,
                requester_name,
                identity_check,
                recorded_by,
                now(),
            ],
        )
        refresh(store)
    verb = "registered" if action == "add" else "withdrawn"
    matched = _matched(store, who)
    tail = "" if matched else " (no pupil matched yet: applied once matched)"
    return Outcome(True, f"{optout_type} opt-out {verb}{tail}", matched)


def in_force(store: Store, who: Subject) -> dict[str, str]:
    """The person's opt-outs in force (type -> since), by the details as given."""
    if not store.exists("optout_events"):
        return {}
    return {
        t: str(since)
        for t, since in store.rows(
            f"SELECT optout_type, since FROM ({state_sql()}) s WHERE subject = ? "
            "ORDER BY 1",
            [who.key],
        )
    }


def _matched(store: Store, who: Subject) -> bool:
    from pupilshare.rights.identity import resolve

    return resolve(store, who)[0] is not None


def history(store: Store) -> list[dict[str, Any]]:
    """Every event, oldest first (identifiers shown only as given, for the record)."""
    ensure(store)
    cols = (
        "event_id",
        "action",
        "optout_type",
        "upn",
        "forename",
        "surname",
        "date_of_birth",
        "requester",
        "requester_name",
        "identity_check",
        "recorded_by",
        "recorded_at",
    )
    rows = store.rows(f"SELECT {', '.join(cols)} FROM optout_events ORDER BY event_id")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def set_exemption(
    store: Store, agreement_id: str, approver: str, legal_duty: str
) -> None:
    """A legal duty overrides every opt-out for this agreement (shown in the register
    and recorded in each release's ledger entry)."""
    if not legal_duty.strip():
        raise InvalidInput("name the legal duty that overrides opt-outs (--legal-duty)")
    ensure(store)
    if store.one(
        "SELECT count(*) FROM optout_exemptions WHERE agreement_id = ? "
        "AND withdrawn_at IS NULL",
        [agreement_id],
    ):
        raise Conflict(f"{agreement_id} already has an opt-out exemption")
    store.rows(
        "INSERT INTO optout_exemptions VALUES (?, ?, ?, ?, NULL)",
        [agreement_id, approver, legal_duty, now()],
    )


def exemption(store: Store, agreement_id: str) -> dict[str, Any] | None:
    if not store.exists("optout_exemptions"):
        return None
    rows = store.rows(
        "SELECT approver, legal_duty, recorded_at FROM optout_exemptions "
        "WHERE agreement_id = ? AND withdrawn_at IS NULL",
        [agreement_id],
    )
    if not rows:
        return None
    return {"approver": rows[0][0], "legal_duty": rows[0][1], "since": str(rows[0][2])}


def exempt_sql(agreement_id: str) -> str:
    """SQL condition: true when ``agreement_id`` has an exemption in force."""
    aid = agreement_id.replace("'", "''")
    return (
        f"EXISTS (SELECT 1 FROM optout_exemptions e WHERE e.agreement_id = "
        f"'{aid}' AND e.withdrawn_at IS NULL)"
    )


def as_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=str, indent=2)


def learning_records(store: Store) -> list[dict[str, Any]]:
    """The opt-outs of achievement sharing in force now: each registration's ULN,
    UPN, surname, date of birth (as given) and, once it resolves to one pupil,
    the pupil key; for the learner service, which holds its own register."""
    if not store.exists("optout_events"):
        return []
    state = """
        SELECT subject, optout_type, upn, uln, forename, surname, date_of_birth,
               recorded_at AS since, recorded_by
        FROM optout_events WHERE recorded_at <= current_timestamp
        QUALIFY row_number() OVER (PARTITION BY subject, optout_type
                                   ORDER BY recorded_at DESC, event_id DESC) = 1
            AND action = 'add' AND optout_type = 'learning_records'"""
    if store.exists("pupils"):
        resolved = resolve_sql("_lr_state", store.exists("pupil_identifiers"))
        store.rows(f"CREATE OR REPLACE TEMP TABLE _lr_state AS {state}")
        rows = store.rows(
            "SELECT s.uln, s.upn, s.surname, CAST(s.date_of_birth AS VARCHAR), "
            "CASE WHEN r.matches = 1 THEN r.pupil_key END, s.since, s.recorded_by "
            f"FROM _lr_state s LEFT JOIN ({resolved}) r USING (subject)"
        )
    else:
        rows = store.rows(
            "SELECT uln, upn, surname, CAST(date_of_birth AS VARCHAR), NULL, since, "
            "recorded_by "
            f"FROM ({state})"
        )
    keys = ("uln", "upn", "surname", "date_of_birth", "pupil_key", "since", "by")
    return [dict(zip(keys, r, strict=True)) for r in rows]
