"""Sharing governance: recipients, legal gateways, agreements with justified items,
the approval panel and the Chief Statistician's decision, the one disclosure decision
point, and the register and privacy notice generated from the live agreements.

These names are the area's public surface: the faces (the command line in
``commands/``) and the other areas import nothing else from it.
"""

from __future__ import annotations

from pupilshare.governance.access import Actor, Principal
from pupilshare.governance.amend import propose as propose_amendment
from pupilshare.governance.calls import (
    agreement_plan,
    decide_agreement,
    publish_register,
    record_panel,
    records,
)
from pupilshare.governance.db import session_scope
from pupilshare.governance.orgs import (
    add_gateway,
    add_org,
    add_user,
    change_identity,
    confirm_gateway,
    reinstate_org,
    set_roles,
)
from pupilshare.governance.plan import Approval, approved_release, plan_for
from pupilshare.governance.policy import Answer, may_disclose
from pupilshare.governance.progress import (
    check_application,
    progress,
    review,
    service_level,
)
from pupilshare.governance.public import notice_view, register_view
from pupilshare.governance.scope import LaScope, la_scope
from pupilshare.governance.seeds import SeedOutcome, load_seeds
from pupilshare.governance.terms import read_yaml
from pupilshare.governance.views import (
    detail,
    detail_lines,
    list_agreements,
    list_gateways,
    list_orgs,
    list_users,
    show_org,
    status_section,
)
from pupilshare.governance.workflow import activate, expire_due, revoke, submit

__all__ = [
    "Actor",
    "Answer",
    "Approval",
    "Principal",
    "SeedOutcome",
    "activate",
    "add_gateway",
    "add_org",
    "add_user",
    "agreement_plan",
    "approved_release",
    "change_identity",
    "confirm_gateway",
    "decide_agreement",
    "detail",
    "detail_lines",
    "expire_due",
    "list_agreements",
    "list_gateways",
    "list_orgs",
    "list_users",
    "load_seeds",
    "may_disclose",
    "plan_for",
    "propose_amendment",
    "publish_register",
    "read_yaml",
    "record_panel",
    "records",
    "reinstate_org",
    "revoke",
    "set_roles",
    "show_org",
    "status_section",
    "submit",
    # the web service's reads (``pupilshare.web``)
    "LaScope",
    "check_application",
    "la_scope",
    "notice_view",
    "progress",
    "register_view",
    "review",
    "service_level",
    "session_scope",
]
