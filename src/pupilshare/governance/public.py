"""The public's view of the records, for the web service: the register of shares
and the privacy notice, from the same code that writes their files."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare.governance import notice, register
from pupilshare.governance.models import Agreement, Organisation


def register_view(
    session: Session, releases: list[dict[str, Any]], today: date | None = None
) -> dict[str, Any]:
    """Shares in force with their releases, and those no longer in force."""
    recs = [
        {k: r[k] for k in ("release_id", "agreement_id", "created_at", "row_count")}
        for r in releases
    ]
    return {
        "columns": list(register.COLUMNS),
        "in_force": register.rows(session, recs, today),
        "ended": register.rows(session, recs, today, register.ENDED),
    }


def notice_view(session: Session, today: date | None = None) -> list[dict[str, Any]]:
    """The privacy notice as headings and paragraphs, from the live agreements."""
    active = list(
        session.scalars(
            select(Agreement)
            .where(Agreement.status == "active")
            .order_by(Agreement.agreement_id)
        )
    )
    secs = notice.sections(
        active, session.get(Organisation, "department"), today or date.today()
    )
    return [{"heading": h, "paragraphs": ps} for h, ps in secs]
