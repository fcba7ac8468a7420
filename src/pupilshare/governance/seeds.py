"""Load the seed recipients (``seeds.yaml``) and take them through the workflow, as
the demo does: each recipient's named user submits, the panel sits, the demo Chief
Statistician decides and data operations activates.

Every seed user gets a generated password (and a TOTP secret when their roles need a
second factor), returned in ``SeedOutcome.credentials`` for the demo to print; the
Chief Statistician signs in with hers to decide, as anyone must."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.config import Home
from pupilshare.errors import InvalidInput
from pupilshare.governance import orgs, panel, workflow
from pupilshare.governance.access import Principal, actor
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Credential, Gateway, Organisation, User

if TYPE_CHECKING:
    from pupilshare.identity import Issued

SEEDS = Path(__file__).with_name("seeds.yaml")
OPERATOR_USER = "dora.ops"
CHIEF = "cass.chief"


def read_seeds(path: Path = SEEDS) -> dict[str, Any]:
    with path.open() as f:
        return yaml.safe_load(f)


def for_nation(
    seeds: dict[str, Any], la_codes: list[str], schools: list[str] | None = None
) -> dict[str, Any]:
    """The seeds with their local authorities pointed at ``la_codes`` and their
    lookup agreements' institutions (``records_at`` a school's DfE number) at
    ``schools``, in order: a synthetic nation numbers its own authorities and
    schools, so real councils' names would be false and a real college's number
    would find nobody (its agreement would release an empty file)."""
    out = copy.deepcopy(seeds)
    las = [o for o in out["organisations"] if o["type"] == "local authority"]
    for org, code in zip(las, la_codes, strict=False):
        org["name"], org["legal_id"] = f"Local authority {code}", f"LA-{code}"
        for ag in out["agreements"]:
            if ag["recipient"] == org["id"]:
                ag["population"] = {**ag.get("population", {}), "la_codes": [code]}
    at_school = [
        ag["population"]["records_at"]
        for ag in out["agreements"]
        if ag.get("population", {}).get("records_at", {}).get("item") == "laestab"
    ]
    for at, school in zip(at_school, schools or [], strict=False):
        at["value"] = school
    return out


def load_parties(session: Session, seeds: dict[str, Any]) -> dict[str, Issued]:
    """Organisations, users and gateways (as the local operator; idempotent): the
    credentials issued to the users it added."""
    from pupilshare.identity import issue

    op, issued = actor(session, None), {}
    for o in seeds["organisations"]:
        if session.get(Organisation, o["id"]) is None:
            orgs.add_org(
                session,
                op,
                o["id"],
                o["name"],
                o["type"],
                o["legal_id"],
                o.get("owner", ""),
                o.get("website", ""),
                o.get("min_pupil_age"),
            )
    for u in seeds["users"]:
        if session.get(User, u["username"]) is None:
            orgs.add_user(session, op, u["username"], u["name"], u["org"], u["roles"])
            issued[u["username"]] = issue(session, op, u["username"])
    for g in seeds["gateways"]:
        if session.get(Gateway, g["id"]) is None:
            orgs.add_gateway(session, op, g)
    session.flush()
    return issued


def confirm_gateways(session: Session, seeds: dict[str, Any], chief: Principal) -> None:
    """Each seed gateway confirmed by the demo Chief Statistician (signed in)."""
    for g in seeds["gateways"]:
        if session.get(Gateway, g["id"]).confirmed_by is None:
            orgs.confirm_gateway(session, chief, g["id"])


def next_code(
    session: Session, issued: Issued, at: datetime | None = None
) -> str | None:
    """The code a seed user's authenticator app would show next: the current time
    step's, or the step after the last one used (a code is accepted once)."""
    from pupilshare.identity import totp

    if not issued.totp_secret:
        return None
    last = (
        session.scalar(
            select(Credential.totp_last_step).where(
                Credential.username == issued.username
            )
        )
        or 0
    )
    step = max(totp.step_at(at or workflow.now()), last + 1)
    return totp.code_for(issued.totp_secret, step)


def sign_in(session: Session, issued: Issued, source: str = "seeds") -> Principal:
    """Sign a seed user in with the credentials they were issued. Call it before
    writing in ``session`` (see ``pupilshare.identity``)."""
    from pupilshare.identity import authenticate

    assert issued.password is not None
    return authenticate(
        session,
        issued.username,
        issued.password,
        next_code(session, issued),
        source=source,
    )


def panel_members(seeds: dict[str, Any]) -> list[str]:
    return [u["username"] for u in seeds["users"] if "panel_member" in u["roles"]]


@dataclass
class SeedOutcome:
    active: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)
    credentials: dict[str, Issued] = field(default_factory=dict)
    recipients: set[str] = field(default_factory=set)


def run_seed_agreement(
    session: Session,
    seeds: dict[str, Any],
    raw: dict[str, Any],
    today: date | None = None,
    chief: Principal | None = None,
) -> str:
    """Submit, sit the panel, decide (as ``chief``, signed in) and activate one seed
    agreement."""
    applicant = actor(session, raw["users"][0])
    ag = workflow.submit(session, applicant, raw, today)
    views = [
        {
            "member": m,
            "view": "approve",
            "reasons": f"Items are justified for the purpose; {ag.level} is the "
            "least identifying level that serves it.",
        }
        for m in panel_members(seeds)
    ]
    panel.record(
        session,
        actor(session, OPERATOR_USER),
        ag.agreement_id,
        views,
        list(seeds.get("panel_conditions", [])),
    )
    workflow.decide(
        session,
        chief or actor(session, CHIEF),
        ag.agreement_id,
        True,
        "Lawful under the gateway, necessary and proportionate for the "
        "stated purpose, on the panel's unanimous advice.",
    )
    workflow.activate(session, actor(session, OPERATOR_USER), ag.agreement_id, today)
    return ag.agreement_id


def load_all(
    session: Session,
    path: Path = SEEDS,
    today: date | None = None,
    la_codes: list[str] | None = None,
    schools: list[str] | None = None,
) -> SeedOutcome:
    """Every seed agreement active, and every refused example's reasons."""
    seeds = read_seeds(path)
    if la_codes or schools:
        seeds = for_nation(seeds, la_codes or [], schools)
    out = SeedOutcome(credentials=load_parties(session, seeds))
    session.commit()
    issued = out.credentials.get(CHIEF)
    chief = sign_in(session, issued) if issued else actor(session, CHIEF)
    confirm_gateways(session, seeds, chief)
    for raw in seeds["agreements"]:
        out.active.append(run_seed_agreement(session, seeds, raw, today, chief))
        out.recipients.add(raw["recipient"])
    session.commit()
    for raw in seeds.get("refused_examples", []):
        try:
            workflow.submit(session, actor(session, raw["users"][0]), raw, today)
        except InvalidInput as e:
            out.refused[raw["id"]] = e.errors
    session.commit()
    return out


def load_seeds(
    home: Home, la_codes: list[str] | None = None, schools: list[str] | None = None
) -> SeedOutcome:
    """``load_all`` in its own unit of work on the home's records (the demo)."""
    with session_scope(home) as session:
        return load_all(session, la_codes=la_codes, schools=schools)
