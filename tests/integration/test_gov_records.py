"""Governance records on SQLite and PostgreSQL: migrations, the workflow and who may
move it, the panel, amendments, due diligence and the seeds made live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session

from pupilshare import identity
from pupilshare.errors import Conflict, Denied, InvalidInput
from pupilshare.governance import amend, db, orgs, panel, seeds, workflow
from pupilshare.governance.access import Principal, actor
from pupilshare.governance.models import Agreement, Base, Transition, UserChange

APPROVE = "approve"


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with db.factory(db_url)() as s:
        yield s
    db.dispose(db_url)


@pytest.fixture
def seeded(
    db_url: str, seed: Callable[[], tuple[Session, Any]]
) -> Iterator[tuple[Session, Any]]:
    s, out = seed()
    yield s, out
    s.close()
    db.dispose(db_url)


def _draft(session: Session, agreement_id: str = "ier-second") -> dict:
    """A fresh application from the independent researcher (copy of a seed)."""
    raw = next(
        a for a in seeds.read_seeds()["agreements"] if a["id"] == "ier-attainment-gaps"
    )
    return {**raw, "id": agreement_id}


def _panel(
    session: Session,
    agreement_id: str,
    amendment_id: int | None = None,
    conflicted: str | None = None,
) -> None:
    views = [
        {"member": m, "view": APPROVE, "reasons": "justified"}
        for m in ("pat.panel", "priya.panel", "peter.panel")
    ]
    if conflicted:
        views[0]["conflict"] = conflicted
    panel.record(
        session,
        actor(session, "dora.ops"),
        agreement_id,
        views,
        ["no onward sharing"],
        amendment_id,
    )


def test_migration_matches_the_models(db_url: str) -> None:
    engine = db.factory(db_url).kw["bind"]
    with engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), Base.metadata)
    assert diff == []
    assert "alembic_version" in sa.inspect(engine).get_table_names()
    db.dispose(db_url)


def test_migration_0006_names_who_made_each_older_credential_change(
    db_url: str,
) -> None:
    """Credential changes recorded before ``sign_ins.changed_by`` keep their maker
    in ``detail`` only; the migration fills the column from it, so the chains of
    accounts reach back before it (and leaves sign-ins, which have no maker, alone)."""
    from alembic import command

    engine = sa.create_engine(db_url)
    with engine.begin() as con:
        command.upgrade(db.alembic_config(con), "0005_terms_digest")
        for outcome, detail in (
            ("password_set", "by dora.ops, second factor enrolled"),
            ("unlock", "by ops.two: forgot"),
            ("ok", ""),
        ):
            con.execute(
                sa.text(
                    "INSERT INTO sign_ins (at, username, method, source, outcome, "
                    "detail) VALUES (:at, 'x.y', :m, 'cli', :o, :d)"
                ),
                {
                    "at": workflow.now(),
                    "m": "ok" if outcome == "ok" else "manage",
                    "o": outcome,
                    "d": detail,
                },
            )
    db.migrate(engine)
    with engine.connect() as con:
        got = con.execute(
            sa.text("SELECT outcome, changed_by FROM sign_ins ORDER BY sign_in_id")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in got] == [
        ("password_set", "dora.ops"),
        ("unlock", "ops.two"),
        ("ok", None),
    ]


def test_the_seeds_all_become_active(seeded: tuple) -> None:
    session, out = seeded
    names = {a["id"] for a in seeds.read_seeds()["agreements"]}
    assert set(out.active) == names
    statuses = {a.agreement_id: a.status for a in session.scalars(sa.select(Agreement))}
    assert all(statuses[n] == "active" for n in names)
    # the refused example is on the record as a draft, with its reasons
    assert statuses["lrs-younger-learners"] == "draft"
    (why,) = [t.reason for t in workflow.history(session, "lrs-younger-learners")]
    assert "14" in why and "ks_results" in why
    assert len(out.refused["lrs-younger-learners"]) == 3


def _chief(session: Session, out: Any) -> Principal:
    """The Chief Statistician, signed in with her seed credentials (sign in before
    writing: on SQLite the sign-in record waits for the session's writes)."""
    return seeds.sign_in(session, out.credentials["cass.chief"])


def test_only_the_chief_statistician_decides(seeded: tuple) -> None:
    session, out = seeded
    chief = _chief(session, out)
    ag = workflow.submit(session, actor(session, "ier.researcher"), _draft(session))
    _panel(session, ag.agreement_id)
    for who in (None, "pat.panel", "dora.ops", "ier.researcher"):
        with pytest.raises(Denied):
            workflow.decide(session, actor(session, who), ag.agreement_id, True, "ok")
    with pytest.raises(Denied, match="without signing in"):  # a name is not enough
        workflow.decide(
            session, actor(session, "cass.chief"), ag.agreement_id, True, "ok"
        )
    workflow.decide(session, chief, ag.agreement_id, True, "ok")
    assert ag.status == "approved"


def test_nobody_decides_their_own_submission(seeded: tuple) -> None:
    session, out = seeded
    chief = _chief(session, out)
    orgs.add_user(
        session,
        chief,
        "cora.chief",
        "Cora",
        "department",
        ["chief_statistician", "data_operations"],
    )
    issued = identity.issue(session, chief, "cora.chief")
    session.commit()
    cora = seeds.sign_in(session, issued)
    ag = workflow.submit(session, cora, _draft(session))
    _panel(session, ag.agreement_id)
    with pytest.raises(Conflict, match="may not decide"):
        workflow.decide(session, cora, ag.agreement_id, True, "mine")
    workflow.decide(session, chief, ag.agreement_id, False, "not yet")
    assert ag.status == "rejected"


def test_a_decision_needs_a_quorate_panel(seeded: tuple) -> None:
    session, out = seeded
    chief = _chief(session, out)
    ag = workflow.submit(session, actor(session, "ier.researcher"), _draft(session))
    with pytest.raises(Conflict, match="quorate"):
        workflow.decide(session, chief, ag.agreement_id, True, "ok")
    _panel(session, ag.agreement_id, conflicted="supervises the applicant")
    (review,) = panel.reviews_of(session, ag.agreement_id)
    assert not review.quorate
    views = {v.member: v for v in panel.views_of(session, review.review_id)}
    assert views["pat.panel"].view == "conflicted"
    assert views["pat.panel"].conflict == "supervises the applicant"
    with pytest.raises(Conflict, match="quorate"):
        workflow.decide(session, chief, ag.agreement_id, True, "ok")
    with pytest.raises(InvalidInput, match="panel record refused"):
        panel.record(
            session,
            actor(session, "dora.ops"),
            ag.agreement_id,
            [{"member": "ier.researcher", "view": APPROVE, "reasons": "x"}],
        )


def test_every_transition_is_recorded(seeded: tuple) -> None:
    session, out = seeded
    chief = _chief(session, out)
    ag = workflow.submit(session, actor(session, "ier.researcher"), _draft(session))
    _panel(session, ag.agreement_id)
    workflow.decide(session, chief, ag.agreement_id, True, "sound design")
    workflow.activate(session, actor(session, "dora.ops"), ag.agreement_id)
    workflow.revoke(session, chief, ag.agreement_id, "breach reported")
    hist = workflow.history(session, ag.agreement_id)
    assert [(t.from_status, t.to_status) for t in hist] == [
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "active"),
        ("active", "revoked"),
    ]
    assert [t.actor for t in hist] == [
        "ier.researcher",
        "cass.chief",
        "dora.ops",
        "cass.chief",
    ]
    assert hist[-1].reason == "breach reported" and all(t.at for t in hist)
    with pytest.raises(Conflict):
        workflow.activate(session, actor(session, "dora.ops"), ag.agreement_id)


def test_expiry(seeded: tuple) -> None:
    session, _ = seeded
    later = date.today() + timedelta(days=400)
    done = workflow.expire_due(session, actor(session, "dora.ops"), later)
    assert "dh-ncmp" in done and "lrs-uln-plr" not in done
    assert session.get(Agreement, "dh-ncmp").status == "expired"


def test_approved_agreements_change_only_by_amendment(seeded: tuple) -> None:
    session, out = seeded
    chief = _chief(session, out)
    ier = actor(session, "ier.researcher")
    with pytest.raises(Conflict, match="amendment"):
        workflow.submit(session, ier, {**_draft(session), "id": "ier-attainment-gaps"})
    with pytest.raises(Conflict, match="another recipient"):
        workflow.submit(session, ier, {**_draft(session), "id": "lrs-younger-learners"})
    ag = session.get(Agreement, "ier-attainment-gaps")
    before = dict(ag.spec)
    later = ag.expiry_date + timedelta(days=90)
    with pytest.raises(InvalidInput) as refused:
        amend.propose(
            session, ier, ag.agreement_id, {"expiry": later.isoformat()}, "extend"
        )
    assert refused.value.errors == [
        "data must be destroyed on or after expiry, not before the share ends"
    ]
    changes = {
        "expiry": later.isoformat(),
        "destroy_by": later.isoformat(),
        "datasets": {
            **amend.to_raw(ag.spec)["datasets"],
            "qualifications": {
                "justification": "later outcomes",
                "items": {"grade": "outcome"},
            },
        },
    }
    am = amend.propose(session, ier, ag.agreement_id, changes, "extend the study")
    assert am.diff == {
        "datasets.qualifications": [None, "later outcomes"],
        "destroy_by": [before["destroy_by"], changes["destroy_by"]],
        "expiry": [before["expiry"], changes["expiry"]],
        "items.qualifications.grade": [None, "outcome"],
    }
    assert ag.spec == before and ag.version == 1
    with pytest.raises(Conflict, match="quorate"):
        amend.decide(session, chief, ag.agreement_id, am.amendment_id, True, "ok")
    _panel(session, ag.agreement_id, am.amendment_id)
    amend.decide(session, chief, ag.agreement_id, am.amendment_id, True, "ok")
    assert ag.version == 2 and "qualifications.grade" in ag.spec["items"]
    assert ag.expiry_date.isoformat() == changes["expiry"]
    raw = amend.to_raw(ag.spec)["datasets"]
    raw["census"]["items"]["upn"] = "to link with our own records"
    with pytest.raises(InvalidInput, match="refused") as e:
        amend.propose(session, ier, ag.agreement_id, {"datasets": raw}, "link")
    assert e.value.errors == [
        "item census.upn identifies a pupil and cannot be shared at level pseudonymised"
    ]


def test_a_change_of_name_suspends_until_reapproved(seeded: tuple) -> None:
    session, out = seeded
    op, chief = actor(session, None), _chief(session, out)
    done = orgs.change_identity(
        session,
        op,
        "ofsted",
        "name",
        "Ofsted Ltd",
        "claims to be the new name of the inspectorate",
    )
    assert sorted(done) == [
        "ofsted-inspection",
        "ofsted-la-children",
        "ofsted-performance",
    ]
    ag = session.get(Agreement, "ofsted-inspection")
    assert ag.status == "suspended"
    (change,) = orgs.changes_of(session, "ofsted")
    assert (change.old, change.new) == ("Ofsted", "Ofsted Ltd")
    with pytest.raises(Conflict, match="identity must be re-approved"):
        workflow.decide(session, chief, "ofsted-inspection", True, "looks fine")
    with pytest.raises(Denied):
        orgs.reinstate_org(session, op, "ofsted", "checked")
    orgs.reinstate_org(session, chief, "ofsted", "identity checked")
    # the attacker with data-operations rights: the organisation is reinstated, so
    # activate the suspended agreement without the Chief Statistician's decision
    for who in (op, actor(session, "dora.ops"), chief):
        with pytest.raises(Conflict, match="only an approved agreement"):
            workflow.activate(session, who, "ofsted-inspection")
    assert ag.status == "suspended"
    workflow.decide(session, chief, "ofsted-inspection", True, "identity checked")
    assert ag.status == "active"
    last = session.scalars(
        sa.select(Transition)
        .where(Transition.agreement_id == "ofsted-inspection")
        .order_by(Transition.transition_id.desc())
    ).first()
    assert (last.from_status, last.to_status) == ("suspended", "active")


def test_only_the_chief_statistician_grants_deciding_roles(seeded: tuple) -> None:
    session, _ = seeded
    op, dora = actor(session, None), actor(session, "dora.ops")
    with pytest.raises(Denied):
        orgs.add_user(session, op, "eve", "Eve", "department", ["chief_statistician"])
    with pytest.raises(Denied):
        orgs.set_roles(session, dora, "dh.analyst", ["panel_member"])
    with pytest.raises(Denied, match="own roles"):
        orgs.set_roles(session, dora, "dora.ops", ["data_operations", "recipient"])
    with pytest.raises(Conflict):
        orgs.add_user(session, op, "operator", "Not me", "department", ["public"])
    with pytest.raises(InvalidInput):
        orgs.add_user(session, op, "../x", "Bad", "department", ["public"])
    with pytest.raises(InvalidInput):
        orgs.add_org(session, op, "Bad Org", "Bad", "regulator", "X-1")
    orgs.set_roles(session, dora, "dh.analyst", [], active=False, reason="left")
    with pytest.raises(Denied):
        actor(session, "dh.analyst")
    (change,) = [
        c
        for c in session.scalars(
            sa.select(UserChange).where(UserChange.username == "dh.analyst")
        )
        if c.reason == "left"
    ]
    assert (change.roles_before, change.roles_after, change.changed_by) == (
        ["recipient"],
        [],
        "dora.ops",
    )


def test_unknown_users_are_denied(session: Session) -> None:
    with pytest.raises(Denied):
        actor(session, "nobody")
    assert not actor(session, None).may("decide")


def test_whoever_submits_may_not_record_the_panel(seeded: tuple) -> None:
    """Separation of duties: data operations may submit for a recipient, but then
    another officer records the panel's sitting (and the amendment's)."""
    session, out = seeded
    signed = seeds.sign_in(session, out.credentials["dora.ops"])  # before writing
    dora = actor(session, "dora.ops")
    ag = workflow.submit(session, dora, _draft(session))
    with pytest.raises(Conflict, match="may not record its panel"):
        _panel(session, ag.agreement_id)
    views = [
        {"member": m, "view": APPROVE, "reasons": "justified"}
        for m in ("pat.panel", "priya.panel", "peter.panel")
    ]
    # the unnamed local operator may be dora herself: the separation of duties
    # cannot be shown, so it is refused (issue 10 point 2)
    with pytest.raises(Conflict, match="signed in by name"):
        panel.record(session, actor(session, None), ag.agreement_id, views)
    panel.record(
        session,
        actor(session, "cass.chief"),
        ag.agreement_id,
        [
            {"member": m, "view": APPROVE, "reasons": "justified"}
            for m in ("pat.panel", "priya.panel", "peter.panel")
        ],
    )
    assert panel.reviews_of(session, ag.agreement_id)[-1].quorate
    live = session.get(Agreement, "ier-attainment-gaps")
    am = amend.propose(
        session,
        dora,
        live.agreement_id,
        {"title": "Attainment gaps at key stage 2, extended"},
        "clearer title",
    )
    with pytest.raises(Conflict, match="may not record its panel"):
        _panel(session, live.agreement_id, am.amendment_id)
    with pytest.raises(Conflict, match="signed in by name"):
        panel.record(
            session, actor(session, None), live.agreement_id, views, [], am.amendment_id
        )
    # nor a second account the submitter made for it (roles and password)
    orgs.add_user(session, signed, "dora.two", "D2", "department", ["data_operations"])
    identity.issue(session, signed, "dora.two")
    with pytest.raises(Conflict, match="chain of accounts"):
        panel.record(session, actor(session, "dora.two"), ag.agreement_id, views)
    # submitted by the unnamed operator: no one of data operations records it
    other = workflow.submit(session, actor(session, None), _draft(session, "ier-3"))
    with pytest.raises(Conflict, match="signed in by name"):
        _panel(session, other.agreement_id)


def test_no_chain_of_accounts_records_its_own_submissions_panel(seeded: tuple) -> None:
    """Issue 10 point 2, tried with data operations: dora made a recipient account,
    submitted as it and recorded the panel as herself; made an officer who made a
    recipient account (a chain); or submitted herself and recorded the panel as an
    account made by one she made. The recorder may be neither the submitter, nor an
    account that created or changed (roles, credentials) the submitter's, nor one
    the submitter created or changed, through any chain of accounts."""
    session, out = seeded
    signed = seeds.sign_in(session, out.credentials["dora.ops"])
    views = [
        {"member": m, "view": APPROVE, "reasons": "justified"}
        for m in ("pat.panel", "priya.panel", "peter.panel")
    ]
    dora = actor(session, "dora.ops")

    def made(by: Principal, name: str, roles: list[str], org: str = "ier") -> Principal:
        orgs.add_user(session, by, name, name, org, roles)
        issued = identity.issue(session, by, name)
        session.commit()  # signing in records the attempt in a session of its own
        return seeds.sign_in(session, issued)

    # dora -> ier.puppet (a recipient): submits; dora records
    made(signed, "ier.puppet", ["recipient"])
    ag = workflow.submit(session, actor(session, "ier.puppet"), _draft(session))
    with pytest.raises(Conflict, match="chain of accounts"):
        panel.record(session, dora, ag.agreement_id, views)
    # dora -> ops.two (data operations) -> ier.third: submits; dora records
    two = made(signed, "ops.two", ["data_operations"], "department")
    made(two, "ier.third", ["recipient"])
    third = workflow.submit(
        session, actor(session, "ier.third"), _draft(session, "ier-3")
    )
    for recorder in ("dora.ops", "ops.two"):
        with pytest.raises(Conflict, match="chain of accounts"):
            panel.record(session, actor(session, recorder), third.agreement_id, views)
    # dora submits; ops.three, made by ops.two whom dora made, records
    made(two, "ops.three", ["data_operations"], "department")
    own = workflow.submit(session, dora, _draft(session, "ier-4"))
    with pytest.raises(Conflict, match="chain of accounts"):
        panel.record(session, actor(session, "ops.three"), own.agreement_id, views)
    # an account whose roles the submitter changed, not made by them
    orgs.set_roles(
        session, signed, "sam.stats", ["recipient", "data_operations"], reason="cover"
    )
    with pytest.raises(Conflict, match="chain of accounts"):
        panel.record(session, actor(session, "sam.stats"), own.agreement_id, views)
    # the chain runs through credentials too: ops.two sets the researcher's
    # password (no role changed), who submits; ops.two, and dora before it, may not
    identity.issue(session, two, "ier.researcher")
    researched = workflow.submit(
        session, actor(session, "ier.researcher"), _draft(session, "ier-5")
    )
    for recorder in ("ops.two", "dora.ops"):
        with pytest.raises(Conflict, match="chain of accounts"):
            panel.record(
                session, actor(session, recorder), researched.agreement_id, views
            )
    # an officer outside every chain still records them
    for agreement_id in (
        ag.agreement_id,
        third.agreement_id,
        own.agreement_id,
        researched.agreement_id,
    ):
        review = panel.record(
            session, actor(session, "cass.chief"), agreement_id, views
        )
        assert review.quorate


GATEWAY = {
    "id": "new-gateway",
    "title": "A new power",
    "statute": "An Act 2026",
    "section": "s.1",
    "allows": "Research.",
    "levels": ["pseudonymised"],
    "datasets": ["census", "ks_results", "pupil"],
}


def test_a_new_gateway_takes_effect_only_when_the_chief_confirms_it(
    seeded: tuple,
) -> None:
    session, out = seeded
    dora, chief = actor(session, "dora.ops"), _chief(session, out)
    orgs.add_gateway(session, dora, GATEWAY)
    draft = {**_draft(session, "ier-new-power"), "gateway": "new-gateway"}
    ier = actor(session, "ier.researcher")
    with pytest.raises(InvalidInput) as refused:
        workflow.submit(session, ier, draft)
    assert refused.value.errors == [
        "legal gateway new-gateway has not been confirmed by the Chief Statistician"
    ]
    with pytest.raises(Denied):
        orgs.confirm_gateway(session, dora, "new-gateway")
    with pytest.raises(Denied, match="without signing in"):
        orgs.confirm_gateway(session, actor(session, "cass.chief"), "new-gateway")
    orgs.add_gateway(session, chief, {**GATEWAY, "id": "chiefs-own"})
    with pytest.raises(Conflict, match="may not confirm"):
        orgs.confirm_gateway(session, chief, "chiefs-own")
    orgs.confirm_gateway(session, chief, "new-gateway")
    with pytest.raises(Conflict, match="was confirmed"):
        orgs.confirm_gateway(session, chief, "new-gateway")
    assert workflow.submit(session, ier, draft).status == "submitted"


def test_an_unconfirmed_gateway_stops_a_decision(seeded: tuple) -> None:
    """A gateway found unconfirmed after submission (a record from before
    confirmation existed) stops the decision too: fail closed."""
    session, out = seeded
    chief = _chief(session, out)
    ag = workflow.submit(session, actor(session, "ier.researcher"), _draft(session))
    _panel(session, ag.agreement_id)
    ag.gateway.confirmed_by = None
    with pytest.raises(Conflict, match="not been confirmed"):
        workflow.decide(session, chief, ag.agreement_id, True, "ok")
