"""The one decision point, in AWS Cedar (``cedarpy``).

Every disclosure (a release, a lookup, a download) asks ``may_disclose``: may this
user of this organisation have these items of these pupils for this purpose now? We
chose Cedar over hand-written rules because it is made for exactly this question: the
policy is a small declarative file the panel can read (``disclosure.cedar``), it is
validated against a schema, it denies by default, and it reports which policies
decided. Each ``forbid`` carries an ``@id`` and a ``@reason``, so a denial names every
rule that applied. The policy version (a hash of policy and schema) is recorded with
each answer in ``disclosure_decisions``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import cedarpy
from sqlalchemy.orm import Session

from pupilshare.config import Home
from pupilshare.errors import InvalidInput
from pupilshare.governance.access import DEPARTMENT, OPERATOR
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Agreement, DisclosureDecision, User
from pupilshare.governance.rules import population_ages
from pupilshare.governance.workflow import now

HERE = Path(__file__).parent
ACTIONS = ("release", "download", "lookup")
NO_PERMIT = "no-permit"
UNKNOWN = "unknown-user-or-agreement"
NO_AGE, MAX_AGE = 0, 200


@dataclass(frozen=True)
class Policy:
    """The policy text and schema, their parsed handles (parsed once per process,
    not on every decision) and the version that goes into every decision record."""

    text: str
    schema: str
    version: str
    reasons: dict[str, str]
    policies: Any
    schema_handle: Any


@cache
def policy() -> Policy:
    text = (HERE / "disclosure.cedar").read_text()
    schema = (HERE / "disclosure.cedarschema.json").read_text()
    checked = cedarpy.validate_policies(text, schema)
    if not checked.validation_passed:
        raise RuntimeError(f"disclosure policy invalid: {checked.errors}")
    version = hashlib.sha256((text + "\0" + schema).encode()).hexdigest()[:16]
    reasons = dict(re.findall(r'@id\("([^"]+)"\)\s*@reason\("([^"]+)"\)', text))
    reasons[NO_PERMIT] = "no rule permits this user this action (denied by default)"
    reasons[UNKNOWN] = "no such active user or agreement"
    return Policy(
        text,
        schema,
        version,
        reasons,
        cedarpy.PolicySet.from_str(text),
        cedarpy.Schema.from_json_str(schema),
    )


@dataclass(frozen=True)
class Answer:
    """Allow or deny, the rules that decided, and the policy version."""

    allowed: bool
    rules: tuple[str, ...]
    policy_version: str
    decision_id: int | None = None
    explanations: tuple[str, ...] = field(default=())


def _ref(kind: str, key: str) -> dict[str, Any]:
    return {"__entity": {"type": kind, "id": key}}


def _entities(
    session: Session, username: str | None, ag: Agreement
) -> tuple[list[dict[str, Any]], str, str]:
    if username is None:
        principal, org_id, named = OPERATOR, DEPARTMENT, False
        roles = ["data_operations"]
    else:
        user = session.get(User, username)
        assert user is not None
        principal, org_id, roles, named = user.username, user.org_id, user.roles, True
    lo, hi = population_ages(ag.spec["population"])
    las = ag.spec["population"].get("la_codes") or []
    ents = [
        {
            "uid": {"type": "Org", "id": ag.org_id},
            "attrs": {"status": ag.organisation.status},
            "parents": [],
        },
        {
            "uid": {"type": "User", "id": principal},
            "attrs": {"org": _ref("Org", org_id), "roles": list(roles), "named": named},
            "parents": [],
        },
        {
            "uid": {"type": "Agreement", "id": ag.agreement_id},
            "parents": [],
            "attrs": {
                "recipient": _ref("Org", ag.org_id),
                "status": ag.status,
                "purpose": ag.purpose,
                "items": sorted(ag.spec["items"]),
                "named_users": [_ref("User", u) for u in ag.spec["users"]],
                "start": ag.start_date.toordinal(),
                "expiry": ag.expiry_date.toordinal(),
                "min_age": NO_AGE if lo is None else lo,
                "max_age": MAX_AGE if hi is None else hi,
                "la_limited": bool(las),
                "la_codes": list(las),
            },
        },
    ]
    if org_id != ag.org_id:
        ents.append(
            {
                "uid": {"type": "Org", "id": org_id},
                "attrs": {"status": "active"},
                "parents": [],
            }
        )
    return ents, principal, org_id


def decide(
    session: Session,
    username: str | None,
    agreement_id: str,
    items: list[str],
    purpose: str,
    pupils: dict[str, Any] | None = None,
    action: str = "download",
    today: date | None = None,
) -> Answer:
    """Ask the policy and record the answer; ``pupils`` is ``{min_age, max_age,
    la_codes}`` of the pupils asked for (default: the agreement's own population),
    and is what the decision record keeps as the population."""
    if action not in ACTIONS:
        raise InvalidInput(
            f"unknown action {action!r}: --action must be one of {', '.join(ACTIONS)}"
        )
    pol, today = policy(), today or date.today()
    ag = session.get(Agreement, agreement_id)
    known = ag is not None and (
        username is None
        or ((u := session.get(User, username)) is not None and u.active)
    )
    org_id = DEPARTMENT
    if not known:
        allowed, rules = False, (UNKNOWN,)
    else:
        assert ag is not None
        ents, principal, org_id = _entities(session, username, ag)
        # What is not asked about is the agreement's own population, and the
        # decision record keeps the population as decided, never ``{}``.
        lo, hi = population_ages(ag.spec["population"])
        pupils = {
            **ag.spec["population"],
            "min_age": lo,
            "max_age": hi,
            **(pupils or {}),
        }
        lo, hi = pupils["min_age"], pupils["max_age"]
        # An unbounded or unlimited ask is checked as the widest there is: an empty
        # list of local authorities means every authority, never "no check".
        context = {
            "items": sorted(items),
            "purpose": " ".join(purpose.split()),
            "today": today.toordinal(),
            "min_age": NO_AGE if lo is None else lo,
            "max_age": MAX_AGE if hi is None else hi,
            "la_codes": list(pupils.get("la_codes") or []),
        }
        request = {
            "principal": {"type": "User", "id": principal},
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Agreement", "id": agreement_id},
            "context": context,
        }
        result = cedarpy.is_authorized(request, pol.policies, ents, pol.schema_handle)
        if result.diagnostics.errors:
            raise RuntimeError(f"policy evaluation failed: {result.diagnostics.errors}")
        ids = result.diagnostics.id_annotations_by_reason
        allowed = result.allowed
        rules = tuple(sorted(ids.get(r, r) for r in result.diagnostics.reasons))
        if not rules:
            rules = (NO_PERMIT,)
    row = DisclosureDecision(
        at=now(),
        principal=username or OPERATOR,
        org_id=org_id,
        action=action,
        agreement_id=agreement_id,
        purpose=purpose,
        items=sorted(items),
        population=dict(pupils or {}),
        allowed=int(allowed),
        rules=list(rules),
        policy_version=pol.version,
    )
    session.add(row)
    session.flush()
    return Answer(
        allowed,
        rules,
        pol.version,
        row.decision_id,
        tuple(pol.reasons.get(r, r) for r in rules),
    )


def may_disclose(
    home: Home | str,
    username: str | None,
    agreement_id: str,
    items: list[str],
    purpose: str,
    pupils: dict[str, Any] | None = None,
    action: str = "download",
    today: date | None = None,
) -> Answer:
    """``decide`` in its own unit of work, for callers outside governance."""
    with session_scope(home) as session:
        return decide(
            session, username, agreement_id, items, purpose, pupils, action, today
        )
