"""Sharing governance: recipients, legal gateways, agreements with justified items,
the approval panel and the Chief Statistician's decision, the one disclosure decision
point, and the register and privacy notice generated from the live agreements."""

from __future__ import annotations

from pupilshare import status as _status
from pupilshare.governance.demo import demo_step, register_step
from pupilshare.governance.plan import plan_for
from pupilshare.governance.policy import Answer, may_disclose
from pupilshare.governance.views import status_section

_status.SECTIONS["governance"] = status_section

__all__ = ["Answer", "demo_step", "may_disclose", "plan_for", "register_step"]
