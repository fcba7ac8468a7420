"""What applicants, the panel and the Chief Statistician see of an application:
its stages against the published service level, the reasons of a refusal, every
flag before submission, and the application beside its gateway's limits and the
rules' answer.

The service level is computed from the records, never stated: days from each
submission to the decision on it (``transitions``), median and 90th percentile.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare import catalogue
from pupilshare.errors import InvalidInput
from pupilshare.governance import terms as terms_mod
from pupilshare.governance import views, workflow
from pupilshare.governance.access import PERMISSIONS, Actor
from pupilshare.governance.models import Gateway, Transition, User

STAGES = ("submitted", "panel", "decision", "active")
DECIDED = ("approved", "rejected")


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def decision_days(session: Session) -> list[float]:
    """Days from each submission to the decision on it, over every agreement."""
    rows = session.execute(
        select(Transition.agreement_id, Transition.to_status, Transition.at).order_by(
            Transition.transition_id
        )
    ).all()
    opened: dict[str, datetime] = {}
    out = []
    for agreement_id, to, at in rows:
        if to == "submitted":
            opened[agreement_id] = at
        elif to in DECIDED and agreement_id in opened:
            out.append(_days(opened.pop(agreement_id), at))
    return out


def service_level(session: Session) -> dict[str, Any]:
    """Median and 90th percentile days to a decision, and how many decisions."""
    days = sorted(decision_days(session))
    if not days:
        return {"decisions": 0, "median_days": None, "p90_days": None}
    p90 = (
        statistics.quantiles(days, n=10, method="inclusive")[-1]
        if len(days) > 1
        else days[0]
    )
    return {
        "decisions": len(days),
        "median_days": round(statistics.median(days), 1),
        "p90_days": round(p90, 1),
    }


def stages(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The application's stages, each done, current or to come, with its date."""
    hist = detail["history"]
    when = {h["to"]: h["at"] for h in hist}
    refused = [h["why"] for h in hist if h["from"] == "draft" and h["to"] == "draft"]
    status = detail["status"]
    done = {
        "submitted": "submitted" in when,
        "panel": any(p["quorate"] for p in detail["panel"]),
        "decision": bool(detail["decisions"]),
        "active": "active" in when,
    }
    dates = {
        "submitted": when.get("submitted"),
        "panel": next((p["held_at"] for p in detail["panel"] if p["quorate"]), None),
        "decision": detail["decisions"][-1]["at"] if detail["decisions"] else None,
        "active": when.get("active"),
    }
    out, current_found = [], False
    for name in STAGES:
        state = (
            "done" if done[name] else ("current" if not current_found else "to come")
        )
        if not done[name]:
            current_found = True
        out.append({"stage": name, "state": state, "at": dates[name]})
    if status == "rejected":
        out[-1]["state"] = "refused"
    if status == "draft" and refused:
        out[0]["state"] = "refused"
    return out


def refusal_reasons(detail: dict[str, Any]) -> list[str]:
    """Why the application was refused: the decision's reasons, or the submission
    checks that turned it away."""
    out = [d["reasons"] for d in detail["decisions"] if d["outcome"] == "rejected"]
    out += [
        h["why"]
        for h in detail["history"]
        if h["from"] == "draft" and h["to"] == "draft"
    ]
    return out


def progress(session: Session, actor: Actor, agreement_id: str) -> dict[str, Any]:
    """One application as its applicant follows it (read checks in ``views``)."""
    d = views.detail(session, actor, agreement_id)
    return {
        **d,
        "stages": stages(d),
        "refusals": refusal_reasons(d),
        "service_level": service_level(session),
    }


def check_application(session: Session, raw: dict[str, Any]) -> list[str]:
    """Every flag the submission would raise, without recording anything."""
    try:
        t = terms_mod.normalise(raw)
    except InvalidInput as e:
        return list(e.errors) or [e.message]
    return workflow.refusals(session, t)


def review(session: Session, actor: Actor, agreement_id: str) -> dict[str, Any]:
    """The application beside its gateway's limits and the rules' answer."""
    actor.require("read", "review applications")
    d = views.detail(session, actor, agreement_id)
    gw = session.get(Gateway, d["gateway"])
    answer = workflow.refusals(session, d["terms"])
    items = [
        {
            "ref": ref,
            "why": why,
            "tier": catalogue.item(ref).tier,
            "identifying": catalogue.item(ref).identifying,
        }
        for ref, why in sorted(d["terms"]["items"].items())
        if _known(ref)
    ]
    return {
        **d,
        "gateway_limits": views.gateway_dict(gw) if gw else None,
        "rules_answer": answer,
        "items_detail": items,
        "panel_members": panel_members(session),
        "stages": stages(d),
        "service_level": service_level(session),
    }


def _known(ref: str) -> bool:
    try:
        catalogue.item(ref)
    except KeyError:
        return False
    return True


def panel_members(session: Session) -> list[dict[str, str]]:
    """Active users who may sit on the panel, to record their views."""
    users = session.scalars(
        select(User).where(User.active == 1).order_by(User.username)
    ).all()
    return [
        {"username": u.username, "name": u.full_name}
        for u in users
        if set(u.roles or ()) & PERMISSIONS["sit_on_panel"]
    ]
