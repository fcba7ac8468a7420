"""A release runs exactly what its agreement's decision approved, and nothing when
governance cannot answer: the attacker's attempts with data-operations rights."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.errors import Blocked, Conflict, Denied
from pupilshare.governance import db, seeds
from pupilshare.governance.models import Agreement, DisclosureDecision
from pupilshare.governance.plan import plan_for
from pupilshare.release import build_release, population
from pupilshare.release.runner import release_agreement
from pupilshare.store import Store
from pupilshare.synth import linked_world

LA = "la1-own-pupils"


@pytest.fixture
def governed(home: Home) -> Iterator[Home]:
    """A small linked world and the seed agreements live, the two LAs being the
    world's authorities 201 and 202."""
    with Store.open(home) as store:
        linked_world.make_world(store, pupils=300, seed=3)
        population.ensure_opt_outs(store)
    with db.session_scope(home) as s:
        seeds.load_all(s, la_codes=["201", "202"])
    yield home
    db.dispose(home.db_url)


def _delivered(home: Home) -> int:
    with Store.open(home) as store:
        if not store.exists("releases"):
            return 0
        return int(store.one("SELECT count(*) FROM releases"))


def _decisions(home: Home) -> list[DisclosureDecision]:
    with db.session_scope(home) as s:
        return list(
            s.scalars(
                sa.select(DisclosureDecision).where(
                    DisclosureDecision.action == "release"
                )
            )
        )


def test_the_policy_log_records_the_population_released(
    governed: Home, tmp_path: Path
) -> None:
    m = release_agreement(governed, LA, tmp_path / "out")
    # The runner's question, then the output check's own (it asks governance
    # itself): both on exactly what was released.
    asked = _decisions(governed)
    assert len(asked) == 2
    for d in asked:
        assert d.allowed and d.agreement_id == LA
        assert d.population["la_codes"] == ["201"]  # never {} and "allowed"
        assert d.items == sorted(m.items)  # the decision was on what was released
    assert _delivered(governed) == 1


def test_a_release_refuses_when_governance_cannot_answer(
    governed: Home, tmp_path: Path
) -> None:
    db.dispose(governed.db_url)
    Path(governed.db_url.removeprefix("sqlite:///")).write_bytes(b"not a database")
    with pytest.raises(Denied, match="governance could not answer"):
        release_agreement(governed, LA, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert _delivered(governed) == 0


def test_a_release_refuses_when_governance_says_no(
    governed: Home, tmp_path: Path
) -> None:
    with pytest.raises(Denied, match="does not allow"):
        release_agreement(governed, LA, tmp_path / "a", user="la1.officer")
    with pytest.raises(Conflict):  # an agreement never approved
        release_agreement(governed, "lrs-younger-learners", tmp_path / "b")
    assert _delivered(governed) == 0


WIDENINGS = {
    "population": (
        "la1-own-pupils",
        lambda p: p["population"].update(la_codes=["201", "202", "203"]),
    ),
    "level": ("dh-ncmp", lambda p: p.update(level="identified")),
    "items": (
        "dh-ncmp-prevalence",
        lambda p: p.update(items=[*p["items"], "ncmp.la_code"]),
    ),
    "opt-outs": ("ier-attainment-gaps", lambda p: p.update(opt_out_scope="none")),
    "recipient": ("la1-own-pupils", lambda p: p.update(recipient="la2")),
}


@pytest.mark.parametrize("widened", sorted(WIDENINGS))
def test_a_plan_file_never_widens_a_release(
    governed: Home, tmp_path: Path, widened: str
) -> None:
    agreement_id, widen = WIDENINGS[widened]
    plan = json.loads(plan_for(governed, agreement_id).to_json())
    widen(plan)
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(plan))
    out = tmp_path / "out"
    code = main(
        [
            "--home",
            str(governed.root),
            "release",
            agreement_id,
            "--out",
            str(out),
            "--plan",
            str(file),
        ]
    )
    assert code == 2  # no such option: any other plan is an amendment
    assert not out.exists() and _delivered(governed) == 0
    assert _decisions(governed) == []


def test_the_check_refuses_a_release_that_skipped_governance(
    governed: Home, tmp_path: Path
) -> None:
    """The attacker's way round the runner: ``build_release`` with a plan of their
    own. The output check asks governance itself, so a plan wider than the one
    approved, an agreement governance does not know or that is no longer live, and
    governance unable to answer are all refused; nothing is delivered."""
    plan = plan_for(governed, LA)
    wider = dataclasses.replace(
        plan,
        population=dataclasses.replace(plan.population, la_codes=("201", "202")),
    )
    unknown = dataclasses.replace(plan, agreement_id="la9-own-pupils")
    with Store.open(governed) as store:
        for attempt, why in (
            (wider, "not the plan governance approves"),
            (unknown, "could not confirm"),
        ):
            with pytest.raises(Blocked) as e:
                build_release(store, governed, attempt, tmp_path / "out")
            assert any(why in r for r in e.value.errors), e.value.errors
    with db.session_scope(governed) as s:
        s.get(Agreement, LA).status = "revoked"
    with Store.open(governed) as store:
        with pytest.raises(Blocked) as e:
            build_release(store, governed, plan, tmp_path / "out")
    assert any("could not confirm" in r for r in e.value.errors), e.value.errors
    assert not (tmp_path / "out").exists() and _delivered(governed) == 0


def test_the_check_fails_closed_when_governance_cannot_answer(
    governed: Home, tmp_path: Path
) -> None:
    plan = plan_for(governed, LA)
    db.dispose(governed.db_url)
    Path(governed.db_url.removeprefix("sqlite:///")).write_bytes(b"not a database")
    with Store.open(governed) as store:
        with pytest.raises(Blocked) as e:
            build_release(store, governed, plan, tmp_path / "out")
    assert any("could not confirm" in r for r in e.value.errors), e.value.errors
    assert _delivered(governed) == 0


def test_the_approved_plan_passes_the_check_on_any_path(
    governed: Home, tmp_path: Path
) -> None:
    with Store.open(governed) as store:
        build_release(store, governed, plan_for(governed, LA), tmp_path / "out")
    assert _delivered(governed) == 1


def test_an_active_agreement_without_its_approving_decisions_releases_nothing(
    governed: Home, tmp_path: Path
) -> None:
    """Point 3, tried on the demo: the agreement's decision deleted from the
    governance records (or an amendment applied with no decision approving it)
    left it "active", and it was released. A live agreement is one the Chief
    Statistician approved, with every change since approved too."""
    from pupilshare.governance.models import Decision

    with db.session_scope(governed) as s:
        s.execute(sa.delete(Decision).where(Decision.agreement_id == LA))
    with pytest.raises(Conflict, match="no decision"):
        release_agreement(governed, LA, tmp_path / "a")
    other = "la2-own-pupils"  # one version further than its approved amendments
    with db.session_scope(governed) as s:
        s.get(Agreement, other).version += 1
    with pytest.raises(Conflict, match="no decision"):
        release_agreement(governed, other, tmp_path / "b")
    assert _delivered(governed) == 0
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _edit_spec(change):  # type: ignore[no-untyped-def]
    def edit(ag: Agreement) -> None:
        spec = json.loads(json.dumps(ag.spec))
        change(spec)
        ag.spec = spec

    return edit


EDITS = {
    "items": (
        "dh-ncmp-prevalence",
        _edit_spec(lambda t: t["items"].update({"ncmp.la_code": "edited in"})),
    ),
    "population": (
        LA,
        _edit_spec(lambda t: t["population"].update(la_codes=["201", "202"])),
    ),
    "level": ("dh-ncmp", lambda ag: setattr(ag, "level", "identified")),
    "recipient": (LA, lambda ag: setattr(ag, "org_id", "la2")),
    "sdc": ("dh-ncmp", _edit_spec(lambda t: t.update(sdc={"k": 1}))),
    "opt-outs": (
        "ier-attainment-gaps",
        _edit_spec(lambda t: t.update(opt_out_scope="none")),
    ),
    "level in the terms": (
        "dh-ncmp",
        _edit_spec(lambda t: t.update(level="identified")),
    ),
}


@pytest.mark.parametrize("edited", sorted(EDITS))
def test_terms_edited_in_the_records_after_the_decision_release_nothing(
    governed: Home, tmp_path: Path, edited: str
) -> None:
    """Issue 10 point 2, tried with write access to ``governance.sqlite``: an
    active agreement's terms edited in place after the Chief Statistician approved
    them (an item added, the population widened, the level raised, another
    recipient, disclosure control or opt-outs loosened) were released as edited.
    Each decision records the digest of the terms it approved; terms that differ
    release nothing, from the runner or from the check's own question."""
    agreement_id, edit = EDITS[edited]
    plan = plan_for(governed, agreement_id)  # as approved, before the edit
    with db.session_scope(governed) as s:
        edit(s.get(Agreement, agreement_id))
    out = tmp_path / "out"
    code = main(
        ["--home", str(governed.root), "release", agreement_id, "--out", str(out)]
    )
    assert code != 0
    with pytest.raises(Conflict, match=f"{agreement_id}.*not the terms"):
        plan_for(governed, agreement_id)
    with Store.open(governed) as store:
        with pytest.raises(Blocked) as e:
            build_release(store, governed, plan, tmp_path / "out2")
    assert any(agreement_id in r and "not the terms" in r for r in e.value.errors), (
        e.value.errors
    )
    assert not out.exists() and _delivered(governed) == 0


def test_a_decision_without_the_digest_of_its_terms_approves_nothing(
    governed: Home, tmp_path: Path
) -> None:
    """Decisions recorded before digests were kept (migration 0005 leaves theirs
    empty: nothing proves the terms were not edited since) release nothing."""
    from pupilshare.governance.models import Decision

    with db.session_scope(governed) as s:
        s.execute(
            sa.update(Decision)
            .where(Decision.agreement_id == LA)
            .values(terms_digest=None)
        )
    with pytest.raises(Conflict, match=f"{LA}'s terms are not the terms"):
        release_agreement(governed, LA, tmp_path / "a")
    assert _delivered(governed) == 0
