"""What a local authority officer may look up: their authority's own pupils, under
their organisation's active agreement, and nothing of any other authority."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.errors import Denied
from pupilshare.governance.access import Actor
from pupilshare.governance.models import Agreement


@dataclass(frozen=True)
class LaScope:
    agreement_id: str
    la_codes: tuple[str, ...]
    items: tuple[str, ...]
    purpose: str
    opt_out_scope: str


def la_scope(session: Session, actor: Actor, la_code: str | None = None) -> LaScope:
    """The officer's active agreement naming ``la_code`` (else their first); denied
    when they hold none, or when ``la_code`` is not one of theirs."""
    actor.require("la_pupils", "look up local authority pupils")
    ags = session.scalars(
        select(Agreement)
        .where(Agreement.org_id == actor.org_id, Agreement.status == "active")
        .order_by(Agreement.agreement_id)
    ).all()
    for ag in ags:
        codes = tuple(str(c) for c in ag.spec["population"].get("la_codes") or [])
        if codes and (la_code is None or la_code in codes):
            return LaScope(
                ag.agreement_id,
                codes,
                tuple(sorted(ag.spec["items"])),
                ag.purpose,
                ag.spec.get("opt_out_scope", "all"),
            )
    if la_code is not None:
        raise Denied(
            f"{actor.username} may not see pupils of local authority {la_code}"
        )
    raise Denied(
        f"{actor.username} holds no active agreement for their authority's pupils"
    )
