"""From an active agreement to the frozen plan the release area builds from, and the
one call release makes: the plan and the decision to disclose it, in one session."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.budget import Budget
from pupilshare.config import Home
from pupilshare.errors import Conflict
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Agreement, Decision
from pupilshare.governance.policy import Answer, decide, policy
from pupilshare.governance.rules import population_ages
from pupilshare.governance.workflow import as_decided, get
from pupilshare.plan import Population, ReleasePlan, Sdc, TableSpec


def _table(x: dict[str, Any]) -> dict[str, Any]:
    """A table's plan fields; ``filters`` (only rows with these values) is passed
    only when the terms have any, so plans from older terms stay the same."""
    spec = {
        "name": x["name"],
        "dataset": x["dataset"],
        "rows": tuple(x["rows"]),
        "columns": tuple(x["columns"]),
        "measure": x.get("measure"),
    }
    if x.get("filters"):
        spec["filters"] = tuple((k, tuple(v)) for k, v in sorted(x["filters"].items()))
    return spec


def _records_at(value: dict[str, str] | None) -> tuple[str, ...]:
    """A lookup agreement's ``records_at: {dataset, item, value}`` as a plan tuple."""
    if not value:
        return ()
    return (str(value["dataset"]), str(value["item"]), str(value["value"]))


def build_plan(
    session: Session, agreement_id: str, today: date | None = None
) -> ReleasePlan:
    ag = get(session, agreement_id)
    today = today or date.today()
    if ag.status != "active":
        raise Conflict(
            f"agreement {agreement_id} is {ag.status}; only an active "
            "agreement is released"
        )
    if not ag.start_date <= today <= ag.expiry_date:
        raise Conflict(f"agreement {agreement_id} is outside its term on {today}")
    _decided(session, ag)
    t = ag.spec
    pop = t["population"]
    tables = tuple(TableSpec(**_table(x)) for x in t["tables"])
    return ReleasePlan(
        agreement_id=ag.agreement_id,
        recipient=ag.org_id,
        gateway=ag.gateway_id,
        purpose=ag.purpose,
        level=ag.level,  # type: ignore[arg-type]
        items=tuple(sorted(t["items"])),
        population=Population(
            min_age=pop.get("min_age"),
            max_age=pop.get("max_age"),
            year_groups=tuple(pop.get("year_groups") or ()),
            la_codes=tuple(pop.get("la_codes") or ()),
            academic_years=tuple(pop.get("academic_years") or ()),
            key_stages=tuple(pop.get("key_stages") or ()),
            records_at=_records_at(pop.get("records_at")),
        ),
        tables=tables,
        sdc=Sdc(**t.get("sdc", {})),
        opt_out_scope=t["opt_out_scope"],
        reference_date=today,
        policy_version=policy().version,
        budget=Budget(**t.get("budget", {})),
        access_route=t["access_route"],
    )


def _decided(session: Session, ag: Agreement) -> None:
    """An active agreement is released only as its decisions approved it: the
    latest decision on the agreement itself approves it, and one approved
    amendment stands behind every version after the first. A status of "active"
    alone (records edited, a decision lost) is not an approval, nor are terms
    whose digest is not the one the latest approving decision recorded
    (``workflow.as_decided``): ``Conflict``."""
    decisions = session.scalars(
        select(Decision)
        .where(Decision.agreement_id == ag.agreement_id)
        .order_by(Decision.decision_id)
    ).all()
    own = [d.outcome for d in decisions if d.amendment_id is None]
    amended = sum(
        d.amendment_id is not None and d.outcome == "approved" for d in decisions
    )
    if not own or own[-1] != "approved" or amended != ag.version - 1:
        raise Conflict(
            f"agreement {ag.agreement_id} is {ag.status} but no decision approves "
            f"it as it stands (version {ag.version}); nothing is released"
        )
    as_decided(session, ag)


def plan_for(
    home_or_session: Home | str | Session, agreement_id: str, today: date | None = None
) -> ReleasePlan:
    """The release plan of an active agreement, as it stands today."""
    if isinstance(home_or_session, Session):
        return build_plan(home_or_session, agreement_id, today)
    with session_scope(home_or_session) as session:
        return build_plan(session, agreement_id, today)


@dataclass(frozen=True)
class Approval:
    """What a release runs: the approved plan and the decision that allowed it."""

    plan: ReleasePlan
    answer: Answer


def pupils_of(population: Population) -> dict[str, Any]:
    """A plan's population as the decision point sees it (ages the year groups
    allow, the local authorities) and as the policy log records it (all of it)."""
    lo, hi = population_ages(asdict(population))
    return {**asdict(population), "min_age": lo, "max_age": hi}


def approved_release(
    home: Home | str, username: str | None, agreement_id: str, today: date | None = None
) -> Approval:
    """The agreement's plan as it stands today and the decision point's answer on
    exactly that plan (its items, purpose and population), in one session, so the
    decision recorded is the decision on what is released."""
    with session_scope(home) as session:
        plan = build_plan(session, agreement_id, today)
        answer = decide(
            session,
            username,
            agreement_id,
            list(plan.items),
            plan.purpose,
            pupils_of(plan.population),
            action="release",
            today=today,
        )
        return Approval(plan, answer)
