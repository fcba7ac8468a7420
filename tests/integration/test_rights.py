"""Opt-outs and subject access over a small world with real releases and ledger."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pupilshare import ledger
from pupilshare.config import Home
from pupilshare.errors import Denied, InvalidInput
from pupilshare.ledger import merkle
from pupilshare.plan import ReleasePlan
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.rights import audit, optouts, sar
from pupilshare.rights.identity import age_on, subject
from pupilshare.store import Store
from pupilshare.synth import linked_world as sample

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

PLAN = ReleasePlan(
    "AGR-LR",
    "Learning Records",
    "SI 2009/1563",
    "learning records",
    "pseudonymised",
    (
        "ks_results.academic_year",
        "ks_results.subject",
        "ks_results.outcome",
        "pupil.pupil_pseudonym",
    ),
    opt_out_scope="learning_records",
)


@pytest.fixture
def world(home: Home):
    store = Store.open(home)
    sample.make_world(store, pupils=300, seed=4)
    population.ensure_opt_outs(store)
    yield store
    store.close()


def _pupil(store: Store, key: int):
    f, s, dob, upn = store.rows(
        "SELECT forename, surname, date_of_birth, upn FROM pupils WHERE pupil_key = ?",
        [key],
    )[0]
    return subject(f, s, dob.isoformat(), upn)


def _opt(store: Store, who, action="add", requester="parent", kind="learning_records"):
    return optouts.record(
        store, who, kind, action, requester, "A Parent", "birth certificate seen", "ops"
    )


def _keys(store: Store, rid: str) -> set[int]:
    return {
        r[0]
        for r in store.rows(
            "SELECT pupil_key FROM release_pupils WHERE release_id = ?", [rid]
        )
    }


def test_opt_outs_apply_idempotently_with_history(
    world: Store, home: Home, tmp_path: Path
) -> None:
    first = build_release(world, home, PLAN, tmp_path / "a")
    assert 7 in _keys(world, first.release_id)
    who = _pupil(world, 7)
    assert _opt(world, who).changed and not _opt(world, who).changed  # idempotent
    m = build_release(world, home, PLAN, tmp_path / "b")
    assert 7 not in _keys(world, m.release_id)
    entry = ledger.prove(home, 1)["inclusion"]
    with Store.open(home) if False else _same(world) as s:
        fields = json.loads(
            bytes(s.one("SELECT leaf FROM ledger_entries WHERE entry_index = 1"))
        )
    assert fields["opt_outs_removed"] == 1 and fields["opt_out_snapshot"]
    assert entry["leaf_index"] == 1
    assert _opt(world, who, "withdraw").changed
    assert [e["action"] for e in optouts.history(world)] == ["add", "withdraw"]
    m = build_release(world, home, PLAN, tmp_path / "c")
    assert 7 in _keys(world, m.release_id)
    assert audit.check(world, home) == (3, [])


class _same:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *a: object) -> None:
        return None


def test_only_the_pupil_of_12_or_a_parent_may_opt_out(world: Store) -> None:
    young = next(
        k
        for (k,) in world.rows("SELECT pupil_key FROM pupils")
        if age_on(_pupil(world, k).date_of_birth, date.today()) < 12
    )
    with pytest.raises(Denied):
        _opt(world, _pupil(world, young), requester="pupil")
    with pytest.raises(Denied):
        _opt(world, _pupil(world, young), requester="recipient")
    assert _opt(world, _pupil(world, young), requester="parent").changed
    with pytest.raises(InvalidInput):
        _opt(world, _pupil(world, young), kind="marketing")


def test_an_opt_out_before_the_match_applies_once_matched(world: Store) -> None:
    who = subject("Newly", "Arrived", "2014-03-03", "H801200099999")
    out = _opt(world, who)
    assert out.changed and not out.matched
    assert optouts.refresh(world) == 1
    world.rows(
        "INSERT INTO pupils (pupil_key, upn, forename, surname, date_of_birth) "
        "VALUES (99999, 'H801200099999', 'Newly', 'Arrived', DATE '2014-03-03')"
    )
    assert optouts.refresh(world) == 0
    assert world.rows("SELECT pupil_key FROM opt_outs") == [(99999,)]


def test_optouts_check_fails_loudly_on_a_breach(
    world: Store, home: Home, tmp_path: Path
) -> None:
    m = build_release(world, home, PLAN, tmp_path / "a")
    _opt(world, _pupil(world, min(_keys(world, m.release_id))))
    assert audit.check(world, home) == (1, [])  # opted out after: no breach
    world.rows("UPDATE optout_events SET recorded_at = TIMESTAMP '2000-01-01'")
    n, problems = audit.check(world, home)  # as if it had been given before
    assert any("opted out before it was made" in p for p in problems)
    assert any("by pseudonym" in p for p in problems)
    (Path(m.out_dir) / "ks_results.csv").write_text("edited")
    assert any("changed since delivery" in p for p in audit.check(world, home)[1])


def test_an_exemption_overrides_opt_outs_for_its_agreement(
    world: Store, home: Home, tmp_path: Path
) -> None:
    inside = min(
        _keys(world, build_release(world, home, PLAN, tmp_path / "0").release_id)
    )
    _opt(world, _pupil(world, inside))
    optouts.set_exemption(world, "AGR-LR", "cass.chief", "Education Act 1996 s.537A")
    m = build_release(world, home, PLAN, tmp_path / "a")
    assert inside in _keys(world, m.release_id)
    leaf = json.loads(
        bytes(world.one("SELECT leaf FROM ledger_entries WHERE entry_index = 1"))
    )
    assert leaf["opt_out_exemption"]["approver"] == "cass.chief"
    assert audit.check(world, home) == (2, [])


def test_subject_access_answer_with_proofs(
    world: Store, home: Home, tmp_path: Path
) -> None:
    m = build_release(world, home, PLAN, tmp_path / "a")
    who = _pupil(world, min(_keys(world, m.release_id)))
    rid = sar.request(
        world,
        who,
        "parent",
        "A Parent",
        "passport seen",
        "ops",
        child_consent="signed consent form",
    )
    pack = sar.answer(world, home, rid, tmp_path / "sar", "ops")
    assert pack.outcome == "answered" and pack.records > 0
    data = json.loads(pack.json_path.read_text())
    assert all(r["values"].get("upn", who.upn) == who.upn for r in data["records"])
    root = bytes.fromhex(data["checkpoint"]["root_hash"])
    kinds = [d["kind"] for d in data["disclosures"]]
    assert kinds == ["release", "subject_access"]
    for d in data["disclosures"]:
        assert merkle.verify_inclusion(
            d["entry_index"],
            d["tree_size"],
            merkle.leaf_hash(bytes.fromhex(d["leaf"])),
            [bytes.fromhex(h) for h in d["inclusion_path"]],
            root,
        )
    html = pack.html_path.read_text()
    assert "How to check" in html and "<script" not in html
    assert ledger.verify(home).ok


def test_subject_access_never_answers_with_another_pupils_data(
    world: Store, home: Home, tmp_path: Path
) -> None:
    nobody = subject("No", "Body", "2013-01-01")
    rid = sar.request(world, nobody, "parent", "P", "passport", "ops", "consent")
    assert sar.answer(world, home, rid, tmp_path / "x", "ops").outcome == "no_match"
    twin = world.rows("SELECT * FROM pupils WHERE pupil_key = 5")[0]
    world.rows(
        "INSERT INTO pupils SELECT 77777, 'H801200077777', uln, forename, "
        "surname, date_of_birth, sex, postcode, created_run FROM pupils "
        "WHERE pupil_key = 5"
    )
    who = subject(twin[3], twin[4], twin[5].isoformat())  # no UPN: two fit
    rid = sar.request(world, who, "parent", "P", "passport", "ops", "consent")
    pack = sar.answer(world, home, rid, tmp_path / "y", "ops")
    assert pack.outcome == "several" and pack.records == 0
    assert "records" not in json.loads(pack.json_path.read_text())
    wrong = subject(twin[3], twin[4], twin[5].isoformat(), "H801200077777")
    key = sar.resolve(world, wrong)
    assert key == (77777, 1)


def test_deadlines_and_the_consent_rule(world: Store) -> None:
    assert sar.one_month_after(date(2026, 1, 31)) == date(2026, 2, 28)
    old = next(
        k
        for (k,) in world.rows("SELECT pupil_key FROM pupils")
        if age_on(_pupil(world, k).date_of_birth, date.today()) >= 12
    )
    with pytest.raises(Denied):
        sar.request(world, _pupil(world, old), "parent", "P", "passport", "ops")
    rid = sar.request(
        world,
        _pupil(world, old),
        "parent",
        "P",
        "passport",
        "ops",
        "consent form",
        received=date(2020, 1, 1),
    )
    assert [r["request_id"] for r in sar.requests(world, overdue=True)] == [rid]


def test_a_request_resolves_by_upn_former_upn_or_birth_date(world: Store) -> None:
    """The lookup paths of a request (by UPN from the identifier index; without one,
    by the pupils born that day) find exactly the pupils fitting every detail: a
    former UPN finds its pupil, a UPN given with another pupil's name finds nobody,
    a namesake born that day with another forename is not a candidate."""
    k, f, s, dob, upn = world.rows(
        "SELECT pupil_key, forename, surname, date_of_birth, upn FROM pupils "
        "WHERE upn IS NOT NULL ORDER BY pupil_key LIMIT 1"
    )[0]
    world.rows(
        "CREATE TABLE pupil_identifiers AS SELECT pupil_key, 'upn' AS kind, "
        "upn AS value FROM pupils WHERE upn IS NOT NULL AND pupil_key <> ?",
        [k],
    )  # this pupil's UPN is on its pupils row alone: found there
    sar.prepare(world)
    assert sar.resolve(world, subject(f, s, dob.isoformat(), upn)) == (k, 1)
    world.rows(
        "INSERT INTO pupil_identifiers VALUES (?, 'former_upn', 'A123456789012')", [k]
    )
    assert sar.resolve(world, subject(f, s, dob.isoformat(), "A123456789012")) == (
        k,
        1,
    )
    other = world.rows(
        "SELECT forename, surname FROM pupils WHERE pupil_key <> ? LIMIT 1", [k]
    )[0]
    assert sar.resolve(world, subject(*other, dob.isoformat(), upn)) == (None, 0)
    world.rows(
        "INSERT INTO pupils SELECT 88888, NULL, NULL, 'Someone', surname, "
        "date_of_birth, sex, postcode, created_run FROM pupils WHERE pupil_key = ?",
        [k],
    )
    assert sar.resolve(world, subject(f, s.upper(), dob.isoformat())) == (k, 1)
    assert sar.resolve(world, subject("someone", s, dob.isoformat())) == (88888, 1)
    assert sar.resolve(world, subject(f, s, "2001-01-01", upn)) == (None, 0)
