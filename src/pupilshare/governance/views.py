"""Records as plain dicts, for ``--json`` and the rich tables; reads are checked here
so every surface shows the same, and only what the asker may see (a recipient sees
only its own organisation's agreements)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pupilshare.config import Home
from pupilshare.errors import Denied
from pupilshare.governance import amend, orgs, panel, workflow
from pupilshare.governance.access import Actor
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import (
    Agreement,
    Decision,
    Gateway,
    Organisation,
    User,
)


def _may_read(actor: Actor, org_id: str | None = None) -> None:
    if actor.may("read"):
        return
    if org_id is not None and actor.may("read_own") and org_id == actor.org_id:
        return
    raise Denied(f"{actor.username} may not read these records")


def summary(ag: Agreement) -> dict[str, Any]:
    return {
        "id": ag.agreement_id,
        "title": ag.title,
        "recipient": ag.org_id,
        "gateway": ag.gateway_id,
        "level": ag.level,
        "status": ag.status,
        "version": ag.version,
        "start": ag.start_date.isoformat(),
        "expiry": ag.expiry_date.isoformat(),
        "items": len(ag.spec["items"]),
    }


def list_agreements(
    session: Session, actor: Actor, status: str | None = None
) -> list[dict[str, Any]]:
    q = select(Agreement).order_by(Agreement.agreement_id)
    if not actor.may("read"):
        _may_read(actor, actor.org_id)
        q = q.where(Agreement.org_id == actor.org_id)
    if status:
        q = q.where(Agreement.status == status)
    return [summary(a) for a in session.scalars(q)]


def detail(session: Session, actor: Actor, agreement_id: str) -> dict[str, Any]:
    """Everything about one agreement: terms, history, panel, decisions, amendments."""
    ag = workflow.get(session, agreement_id)
    _may_read(actor, ag.org_id)
    decisions = session.scalars(
        select(Decision)
        .where(Decision.agreement_id == agreement_id)
        .order_by(Decision.decision_id)
    )
    return {
        **summary(ag),
        "submitted_by": ag.submitted_by,
        "terms": ag.spec,
        "history": [
            {
                "from": t.from_status,
                "to": t.to_status,
                "by": t.actor,
                "at": t.at.isoformat(),
                "why": t.reason,
            }
            for t in workflow.history(session, agreement_id)
        ],
        "panel": [
            {
                "review": r.review_id,
                "amendment": r.amendment_id,
                "held_at": r.held_at.isoformat(),
                "quorum": r.quorum,
                "quorate": bool(r.quorate),
                "conditions": r.conditions,
                "members": [
                    {
                        "member": v.member,
                        "view": v.view,
                        "reasons": v.reasons,
                        "conflict": v.conflict,
                    }
                    for v in panel.views_of(session, r.review_id)
                ],
            }
            for r in panel.reviews_of(session, agreement_id)
        ],
        "decisions": [
            {
                "by": d.decided_by,
                "at": d.decided_at.isoformat(),
                "amendment": d.amendment_id,
                "outcome": d.outcome,
                "reasons": d.reasons,
                "conditions": d.conditions,
            }
            for d in decisions
        ],
        "amendments": [
            {
                "id": a.amendment_id,
                "status": a.status,
                "base_version": a.base_version,
                "by": a.proposed_by,
                "reason": a.reason,
                "diff": a.diff,
            }
            for a in amend.amendments_of(session, agreement_id)
        ],
    }


def detail_lines(d: dict[str, Any]) -> list[str]:
    """An agreement's detail as lines of text: terms, then every step so far."""
    t = d["terms"]
    out = [
        f"[bold]{d['id']}[/] {d['title']} - {d['status']} (version {d['version']})",
        f"recipient {d['recipient']}, gateway {d['gateway']}, level {d['level']}, "
        f"{t['frequency']}, {t['start']} to {t['expiry']}, destroy by "
        f"{t['destroy_by']}",
        f"purpose: {t['purpose']}",
    ]
    out += [f"  {ref}: {why}" for ref, why in t["items"].items()]
    out += [f"  condition: {c}" for c in t.get("conditions", [])]
    out.append("history:")
    out += [
        f"  {h['at']} {h['from']} -> {h['to']} by {h['by']}: {h['why']}"
        for h in d["history"]
    ]
    for r in d["panel"]:
        what = f"amendment {r['amendment']}" if r["amendment"] else "application"
        out.append(
            f"panel {r['review']} on the {what}, {r['held_at']}: "
            f"{'quorate' if r['quorate'] else 'NOT quorate'} "
            f"(quorum {r['quorum']})"
        )
        out += [
            f"  {m['member']}: {m['view']}"
            + (f" - {m['reasons']}" if m["reasons"] else "")
            + (f" (conflict: {m['conflict']})" if m["conflict"] else "")
            for m in r["members"]
        ]
    out += [
        f"decision: {x['outcome']} by {x['by']} at {x['at']}: {x['reasons']}"
        for x in d["decisions"]
    ]
    for a in d["amendments"]:
        out.append(f"amendment {a['id']} ({a['status']}, by {a['by']}): {a['reason']}")
        out += [f"  {k}: {old!r} -> {new!r}" for k, (old, new) in a["diff"].items()]
    return out


def org_dict(session: Session, org: Organisation) -> dict[str, Any]:
    users = session.scalars(select(User.username).where(User.org_id == org.org_id))
    return {
        "id": org.org_id,
        "name": org.name,
        "type": org.org_type,
        "legal_id": org.legal_id,
        "owner": org.owner,
        "status": org.status,
        "min_pupil_age": org.min_pupil_age,
        "users": list(users),
    }


def list_orgs(session: Session, actor: Actor) -> list[dict[str, Any]]:
    _may_read(actor)
    return [
        org_dict(session, o)
        for o in session.scalars(select(Organisation).order_by(Organisation.org_id))
    ]


def show_org(session: Session, actor: Actor, org_id: str) -> dict[str, Any]:
    org = orgs.get_org(session, org_id)
    _may_read(actor, org_id)
    ags = session.scalars(select(Agreement).where(Agreement.org_id == org_id))
    return {
        **org_dict(session, org),
        "agreements": [summary(a) for a in ags],
        "changes": [
            {
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "by": c.changed_by,
                "at": c.changed_at.isoformat(),
                "why": c.reason,
            }
            for c in orgs.changes_of(session, org_id)
        ],
    }


def gateway_dict(g: Gateway) -> dict[str, Any]:
    return {
        "id": g.gateway_id,
        "title": g.title,
        "statute": g.statute,
        "section": g.section,
        "allows": g.allows,
        "levels": g.levels,
        "datasets": g.datasets,
        "min_age": g.min_age,
        "max_age": g.max_age,
        "confirmed_by": g.confirmed_by,
    }


def list_gateways(session: Session, actor: Actor) -> list[dict[str, Any]]:
    _may_read(actor, actor.org_id if actor.may("read_own") else None)
    return [
        gateway_dict(g)
        for g in session.scalars(select(Gateway).order_by(Gateway.gateway_id))
    ]


def list_users(session: Session, actor: Actor) -> list[dict[str, Any]]:
    _may_read(actor)
    return [
        {
            "username": u.username,
            "name": u.full_name,
            "org": u.org_id,
            "roles": u.roles,
            "active": bool(u.active),
        }
        for u in session.scalars(select(User).order_by(User.username))
    ]


def status_section(store: object, home: Home) -> dict[str, Any]:
    """``status --json``: agreements by status (read from the governance records)."""
    with session_scope(home) as session:
        counts = session.execute(
            select(Agreement.status, func.count()).group_by(Agreement.status)
        ).all()
    return {"agreements_by_status": {s: n for s, n in counts}}
