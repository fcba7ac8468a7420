"""The governance calls a face makes that are more than one internal function: a
unit of work with the asker resolved, a decision on an agreement or an amendment, a
panel sitting with the home's quorum, the plan shown, the register written.

Faces (the command line in ``commands/``) parse, call one of these (or another name in
``pupilshare.governance``) and render; each call checks the asker's roles itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from pupilshare.config import Home
from pupilshare.governance import amend, panel, workflow
from pupilshare.governance.access import LOCAL_OPERATOR, Actor
from pupilshare.governance.db import session_scope
from pupilshare.governance.models import Decision, PanelReview
from pupilshare.governance.plan import build_plan
from pupilshare.governance.register import write_register


@contextmanager
def records(
    home: Home | str,
    who: Actor | Callable[[Session], Actor] | None,
) -> Iterator[tuple[Session, Actor]]:
    """One unit of work on the governance records and who is asking: a principal,
    a function proving one on this session (``pupilshare.identity``, called before
    anything is read or written), or None for the unnamed local operator. Never a
    bare name: a name is not an identity."""
    with session_scope(home) as session:
        if who is None:
            who = LOCAL_OPERATOR
        yield session, who if isinstance(who, Actor) else who(session)


def decide_agreement(
    session: Session,
    who: Actor,
    agreement_id: str,
    approve: bool,
    reason: str,
    conditions: list[str] | None = None,
    amendment_id: int | None = None,
) -> tuple[Decision, str]:
    """The Chief Statistician's decision on an agreement or one of its amendments;
    the decision and the agreement's status after it."""
    if amendment_id is None:
        d = workflow.decide(session, who, agreement_id, approve, reason, conditions)
    else:
        d = amend.decide(session, who, agreement_id, amendment_id, approve, reason)
    return d, workflow.get(session, agreement_id).status


def record_panel(
    session: Session,
    who: Actor,
    home: Home,
    agreement_id: str,
    views: list[dict[str, Any]],
    conditions: list[str] | None = None,
    amendment_id: int | None = None,
) -> PanelReview:
    """A panel sitting, quorate by ``[governance] quorum`` of the home's settings."""
    quorum = int(home.settings("governance").get("quorum", panel.QUORUM))
    return panel.record(
        session, who, agreement_id, views, conditions, amendment_id, quorum
    )


def agreement_plan(session: Session, who: Actor, agreement_id: str) -> str:
    """The release plan of an active agreement as JSON, for those who release."""
    who.require("release", "plan releases")
    return build_plan(session, agreement_id).to_json()


def publish_register(
    session: Session, who: Actor, home: Home, out: Path, force: bool = False
) -> dict[str, Path]:
    """Write the public register and privacy notice under ``out`` (an earlier
    register there is replaced only with ``force``)."""
    who.require("publish_register", "write the register")
    return write_register(session, home, out, force=force)
