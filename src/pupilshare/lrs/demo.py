"""The demo's learner-service step: the register loaded from the pupil index, an
awarding organisation and a college given agreements and users, a learner
registered (found, not issued again), a ULN verified, a result submitted, a
learner's sign-in made, access granted and the achievement shared, and every
answer sealed into the ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pupilshare import governance, identity
from pupilshare.governance import Principal
from pupilshare.identity import LOCAL_OPERATOR
from pupilshare.store import Store

AO, COLLEGE = "nab", "riverside"
# the seeded Chief Statistician and panel (``governance/seeds.yaml``): a
# learner-service agreement is decided like any other before the service answers
CHIEF = Principal(
    "cass.chief", "department", frozenset({"chief_statistician"}), via="password+totp"
)
PANEL = ("pat.panel", "priya.panel", "peter.panel")


def decided(home: Any, agreement_id: str) -> None:
    """The panel's sitting and the Chief Statistician's approval of a learner-service
    agreement the local operator submitted (so recorded by someone outside data
    operations, signed in by name)."""
    from pupilshare.lrs import api as lrs

    views = [{"member": m, "view": "approve", "reasons": "justified"} for m in PANEL]
    lrs.record_agreement_panel(home, CHIEF, agreement_id, views)
    lrs.decide_agreement(home, CHIEF, agreement_id, True, "the panel's advice")


def step(run: Any) -> str:
    from pupilshare.lrs import api as lrs
    from pupilshare.lrs import db
    from pupilshare.lrs.models import Learner

    home = run.home
    with Store.open(home) as store:
        loaded = lrs.sync_index(home, LOCAL_OPERATOR, store)
    lrs.add_agreement(
        home,
        LOCAL_OPERATOR,
        "nab-learner-service",
        AO,
        "check candidates' ULNs and record their results",
        5000,
        ["uln", "forenames", "surname", "date_of_birth", "achievements"],
    )
    lrs.add_agreement(
        home,
        LOCAL_OPERATOR,
        "riverside-learner-service",
        COLLEGE,
        "register the college's new students for their ULNs",
        400,
        ["uln", "forenames", "surname", "date_of_birth"],
    )
    for agreement_id in ("nab-learner-service", "riverside-learner-service"):
        decided(home, agreement_id)
    users: dict[str, Any] = run.facts.setdefault("users", {})
    with governance.session_scope(home) as s:
        for name, org, full in (
            ("nab.results", AO, "Nadia Results"),
            ("riverside.registry", COLLEGE, "Rob Registry"),
        ):
            governance.add_user(s, LOCAL_OPERATOR, name, full, org, ["lrs_user"])
            users[name] = identity.issue(s, LOCAL_OPERATOR, name)
    ao = Principal("nab.results", AO, frozenset({"lrs_user"}), via="password")
    college = Principal(
        "riverside.registry", COLLEGE, frozenset({"lrs_user"}), via="password"
    )
    with db.session_scope(home) as s:
        first = s.scalar(select(Learner).order_by(Learner.learner_id).limit(1))
        if first is None:
            return f"register: {loaded['added']} learners; no learner to show"
        person = {
            "forenames": first.forenames,
            "surname": first.surname,
            "date_of_birth": first.date_of_birth.isoformat(),
            "sex": first.sex,
            "postcode": first.postcode,
        }
    got = lrs.register(home, college, person)
    lrs.verify(home, ao, first.uln, first.surname, person["date_of_birth"])
    lrs.submit_achievements(
        home,
        ao,
        [
            {
                "uln": first.uln,
                "surname": first.surname,
                "date_of_birth": person["date_of_birth"],
                "qualification": "GCSE",
                "subject": "Mathematics",
                "grade": "7",
                "awarded_on": "2026-08-20",
            }
        ],
        "demo-results",
    )
    users["learner.demo"] = lrs.create_learner_account(
        home, LOCAL_OPERATOR, first.uln, "learner.demo"
    )
    me = Principal("learner.demo", "learners", frozenset({"learner"}), via="password")
    lrs.set_access(home, me, AO, True)
    shared = lrs.achievements_for(
        home, ao, first.uln, first.surname, person["date_of_birth"]
    )["outcome"]
    with Store.open(home) as store:
        sealed = lrs.seal(home, store)
    return (
        f"register: {loaded['added']:,} learners from the index "
        f"({loaded['unusable']} unusable); registration {got['outcome']}, "
        f"achievement {shared}; {sealed} answers sealed into the ledger"
    )
