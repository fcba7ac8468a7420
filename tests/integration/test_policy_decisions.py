"""The one decision point (Cedar): allow or deny, the rules that decided, and the
policy version recorded with every answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pupilshare import catalogue
from pupilshare.errors import Conflict
from pupilshare.governance import db, orgs, plan, policy, seeds, workflow
from pupilshare.governance.access import actor
from pupilshare.governance.models import Agreement, DisclosureDecision


@pytest.fixture
def session(db_url: str, seed: Callable[[], tuple[Session, Any]]) -> Iterator[Session]:
    s, out = seed()
    s.info["seeds"] = out
    yield s
    s.close()
    db.dispose(db_url)


def ask(
    session: Session,
    user: str | None,
    agreement_id: str = "lrs-uln-plr",
    items: list[str] | None = None,
    purpose: str | None = None,
    **kw: object,
) -> policy.Answer:
    ag = session.get(Agreement, agreement_id)
    return policy.decide(
        session,
        user,
        agreement_id,
        items or ["census.uln", "census.surname"],
        purpose or ag.purpose,
        **kw,
    )


def test_a_named_user_of_the_recipient_is_allowed(session: Session) -> None:
    a = ask(session, "lrs.officer", pupils={"min_age": 14, "max_age": 16})
    assert a.allowed and a.rules == ("named-user-of-recipient",)
    row = session.get(DisclosureDecision, a.decision_id)
    assert row.allowed == 1 and row.policy_version == policy.policy().version
    assert row.rules == ["named-user-of-recipient"] and row.principal == "lrs.officer"


def test_denied_by_default_for_anyone_else(session: Session) -> None:
    for user in ("dh.analyst", "cass.chief", None):
        a = ask(session, user)
        assert not a.allowed and a.rules == (policy.NO_PERMIT,)
    assert ask(session, "nobody").rules == (policy.UNKNOWN,)


def test_every_rule_that_applies_is_named(session: Session) -> None:
    a = ask(
        session,
        "lrs.officer",
        items=["census.uln", "census.ethnicity"],
        purpose="marketing",
        pupils={"min_age": 11, "max_age": 16},
        today=date.today() + timedelta(days=2000),
    )
    assert not a.allowed
    assert set(a.rules) == {
        "items-not-agreed",
        "purpose-differs",
        "pupils-outside-population",
        "outside-term",
    }
    assert len(a.explanations) == 4


def test_suspended_or_revoked_shares_are_denied(session: Session) -> None:
    chief = seeds.sign_in(session, session.info["seeds"].credentials["cass.chief"])
    orgs.change_identity(
        session, actor(session, None), "lrs", "owner", "Learner Data plc", "sold"
    )
    a = ask(session, "lrs.officer")
    assert set(a.rules) == {"agreement-not-active", "recipient-not-in-good-standing"}
    workflow.revoke(session, chief, "nab-awards", "ended")
    assert ask(session, "nab.officer", "nab-awards", ["census.uln"]).rules == (
        "agreement-not-active",
    )


def test_data_operations_may_prepare_a_release(session: Session) -> None:
    assert ask(session, None, action="release").allowed
    assert not ask(session, "lrs.officer", action="release").allowed


def test_la_codes_bound_an_las_own_pupils(session: Session) -> None:
    ag = "la1-own-pupils"
    ok = ask(session, "la1.officer", ag, ["census.upn"], pupils={"la_codes": ["330"]})
    other = ask(
        session, "la1.officer", ag, ["census.upn"], pupils={"la_codes": ["330", "873"]}
    )
    assert ok.allowed and other.rules == ("pupils-outside-population",)


def test_every_answer_is_recorded_with_the_policy_version(session: Session) -> None:
    ask(session, "lrs.officer")
    ask(session, "dh.analyst")
    versions = session.scalars(sa.select(DisclosureDecision.policy_version)).all()
    assert len(versions) == 2 and set(versions) == {policy.policy().version}
    assert len(policy.policy().version) == 16


def test_plan_for_an_active_agreement(session: Session) -> None:
    # The care regulator's tables go through the health department (the notice).
    p = plan.plan_for(session, "dh-ncmp-prevalence")
    assert p.level == "aggregate" and p.recipient == "dh"
    assert p.items == (
        "ncmp.academic_year",
        "ncmp.health_area",
        "ncmp.school_year",
        "ncmp.severely_obese",
        "ncmp.weight_category",
    )
    assert [t.name for t in p.tables] == [
        "prevalence_by_area",
        "prevalence_by_year",
        "of_which_severely_obese",
    ]
    assert all("academic_year" in t.rows for t in p.tables)  # each table its year
    assert p.population.year_groups == ("R", "6") and p.opt_out_scope == "health"
    assert p.policy_version == policy.policy().version
    with pytest.raises(Conflict):
        plan.plan_for(session, "lrs-younger-learners")


CENSUS_REFS = [i.ref for i in catalogue.dataset("census").items]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.sets(st.sampled_from(CENSUS_REFS), min_size=1, max_size=6),
    st.integers(0, 25),
    st.integers(0, 25),
)
def test_allowed_exactly_within_items_and_population(
    session: Session, refs: set[str], a: int, b: int
) -> None:
    ag = session.get(Agreement, "lrs-uln-plr")
    lo, hi = min(a, b), max(a, b)
    answer = ask(
        session,
        "lrs.officer",
        items=sorted(refs),
        pupils={"min_age": lo, "max_age": hi},
    )
    inside_items = refs <= set(ag.spec["items"])
    inside_ages = lo >= 14
    assert answer.allowed == (inside_items and inside_ages)
    assert ("items-not-agreed" in answer.rules) == (not inside_items)
    assert ("pupils-outside-population" in answer.rules) == (not inside_ages)
