"""A small learner-service world for tests: an awarding organisation, a school, a
training provider (the screening company's cover), their users and agreements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pupilshare import governance, lrs
from pupilshare.config import Home
from pupilshare.governance import Principal
from pupilshare.identity import LOCAL_OPERATOR

ORGS = {
    "ao": ("awarding organisation", 2_500),
    "school": ("school/post-16 institution", 400),
    "screen": ("training provider", 50),
}
OPS = Principal(
    "dora.ops", "department", frozenset({"data_operations"}), via="password+totp"
)


CHIEF = Principal(
    "cass.chief", "department", frozenset({"chief_statistician"}), via="password+totp"
)
PANEL = {
    "cass.chief": ["chief_statistician"],
    "pat.panel": ["panel_member"],
    "priya.panel": ["panel_member"],
    "peter.panel": ["panel_member"],
}


def decide(home: Home, agreement_id: str, at: datetime | None = None) -> None:
    """A learner-service agreement through the panel and the Chief Statistician."""
    views = [
        {"member": m, "view": "approve", "reasons": "justified"}
        for m in PANEL
        if m != "cass.chief"
    ]
    lrs.record_agreement_panel(home, CHIEF, agreement_id, views, at)
    lrs.decide_agreement(home, CHIEF, agreement_id, True, "the panel's advice", at)


@dataclass
class World:
    home: Home
    users: dict[str, Principal]


def user(org: str, n: int = 1) -> Principal:
    return Principal(f"{org}.user{n}", org, frozenset({"lrs_user"}), via="token")


def make_world(home: Home, at: datetime) -> World:
    with governance.session_scope(home) as s:
        governance.add_org(
            s,
            LOCAL_OPERATOR,
            "department",
            "The department",
            "government department",
            "gov",
        )
        for org, (kind, _) in ORGS.items():
            governance.add_org(
                s, LOCAL_OPERATOR, org, org.title(), kind, f"LEGAL-{org}"
            )
            for n in (1, 2):
                governance.add_user(
                    s, LOCAL_OPERATOR, f"{org}.user{n}", "A User", org, ["lrs_user"]
                )
        governance.add_user(
            s, LOCAL_OPERATOR, "dora.ops", "Dora", "department", ["data_operations"]
        )
        for name, roles in PANEL.items():
            governance.add_user(s, LOCAL_OPERATOR, name, name, "department", roles)
    for org, (_, volume) in ORGS.items():
        items = ["uln", "forenames", "surname", "date_of_birth"]
        if org == "ao":
            items.append("achievements")
        lrs.add_agreement(
            home,
            OPS,
            f"lrs-{org}",
            org,
            f"the {org}'s use of the learner service",
            volume,
            items,
            at,
        )
        decide(home, f"lrs-{org}", at)
    return World(home, {o: user(o) for o in ORGS})
