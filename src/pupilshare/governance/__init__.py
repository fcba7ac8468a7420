"""Sharing governance: recipients, legal gateways, agreements with justified items,
the approval panel and the Chief Statistician's decision, the one disclosure decision
point, and the register and privacy notice generated from the live agreements."""

from __future__ import annotations

from pupilshare import status as _status
from pupilshare.governance.access import Actor
from pupilshare.governance.access import actor as actor_for
from pupilshare.governance.db import session_scope
from pupilshare.governance.demo import demo_step, register_step
from pupilshare.governance.panel import QUORUM
from pupilshare.governance.panel import record as record_panel
from pupilshare.governance.plan import plan_for
from pupilshare.governance.policy import Answer, may_disclose
from pupilshare.governance.progress import (
    check_application,
    progress,
    review,
    service_level,
)
from pupilshare.governance.public import notice_view, register_view
from pupilshare.governance.scope import LaScope, la_scope
from pupilshare.governance.views import (
    detail,
    list_agreements,
    list_gateways,
    status_section,
)
from pupilshare.governance.workflow import activate, decide, submit

_status.SECTIONS["governance"] = status_section

__all__ = [
    "QUORUM", "Actor", "Answer", "LaScope", "activate", "actor_for",
    "check_application",
    "decide", "demo_step", "detail", "la_scope", "list_agreements", "list_gateways",
    "may_disclose", "notice_view", "plan_for", "progress", "record_panel",
    "register_step", "register_view", "review", "service_level", "session_scope",
    "submit",
]  # fmt: skip
