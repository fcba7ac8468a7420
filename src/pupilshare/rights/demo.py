"""The demo's rights steps: a few parents and pupils register opt-outs before the
releases, one survey sample is drawn after them, one subject access request is
answered, and the ledger is verified, the opt-outs proved honoured and the signed
checkpoint printed last."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

from pupilshare.ledger import publish_head
from pupilshare.ledger.check import verify_store
from pupilshare.release.runner import approval
from pupilshare.rights import accounts, audit, optouts, sar, survey
from pupilshare.rights.identity import OWN_RIGHTS_AGE, age_on, subject
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.demo import DemoRun

TYPES = ("research", "learning_records", "survey", "research")


def _people(store: Store, n: int) -> list[tuple]:
    return store.rows(
        "SELECT pupil_key, forename, surname, date_of_birth, upn "
        "FROM pupils WHERE upn IS NOT NULL ORDER BY hash(pupil_key) "
        f"LIMIT {int(n)}"
    )


def optouts_step(run: DemoRun) -> str:
    """Register a few opt-outs (by parents, or pupils of 12 or over) and one given
    by details that match no pupil yet."""
    with Store.open(run.home) as store:
        people = _people(store, len(TYPES))
        for (_, fn, sn, dob, upn), kind in zip(people, TYPES, strict=False):
            who = subject(fn, sn, dob.isoformat(), upn)
            asker = "pupil" if age_on(dob, date.today()) >= OWN_RIGHTS_AGE else "parent"
            optouts.record(
                store,
                who,
                kind,
                "add",
                asker,
                f"{asker} of {fn}",
                "school confirmed identity by letter",
                "operator",
            )
        optouts.record(
            store,
            subject("Not", "Yetmatched", "2015-02-02"),
            "survey",
            "add",
            "parent",
            "a parent",
            "passport seen",
            "operator",
        )
        waiting = optouts.refresh(store)
        applied = store.one("SELECT count(*) FROM opt_outs")
    run.facts["sar_pupil"] = people[0] if people else None
    return (
        f"{len(people) + 1} opt-outs registered ({applied} applied to matched "
        f"pupils, {waiting} waiting for a match)"
    )


SURVEY = "fieldwork-survey-sample"  # the seeds' survey agreement
PARENT = "pip.parent"  # the seeds' parent account


def survey_step(run: DemoRun) -> str:
    """Draw one stratified survey sample of contact details under the survey
    agreement (a disclosure like any other: governed and in the ledger)."""
    if SURVEY not in (run.facts.get("agreements") or []):
        return f"no active {SURVEY} agreement: no sample drawn"
    plan = approval(run.home, SURVEY, None).plan
    out = run.home.root / "survey" / SURVEY
    with Store.open(run.home) as store:
        got = survey.draw(store, run.home, plan, 200, survey.STRATA, 1, out)
    run.facts["survey_sample"] = got
    return (
        f"{got.size} parents' contact details drawn for {SURVEY} across "
        f"{len(got.strata)} strata (seed 1, ledger entry {got.entry_index}) into {out}"
    )


def sar_step(run: DemoRun) -> str:
    """Answer one subject access request with its proofs."""
    person = run.facts.get("sar_pupil")
    if not person:
        return "no pupil to ask about"
    _, fn, sn, dob, upn = person
    who = subject(fn, sn, dob.isoformat(), upn)
    with Store.open(run.home) as store:
        consent = (
            "pupil's signed consent form"
            if age_on(dob, date.today()) >= OWN_RIGHTS_AGE
            else None
        )
        # the seeds' parent account, linked to the child once checked, asks (and
        # can follow the request and download the answer on the web service)
        link = accounts.link(
            store,
            PARENT,
            who,
            "child",
            "passport seen; birth certificate names the parent",
            "operator",
        )
        rid = sar.request(
            store,
            who,
            link.requester,
            PARENT,
            link.checked,
            "operator",
            consent,
            account=PARENT,
        )
        pack = sar.answer(store, run.home, rid, run.home.root / "sar", "operator")
    return (
        f"{rid} (asked by {PARENT}) answered: {pack.records} records, "
        f"{pack.disclosures} disclosures with inclusion proofs, {pack.html_path}"
    )


def ledger_step(run: DemoRun) -> str:
    """Verify the ledger, prove opt-outs honoured, print the signed checkpoint."""
    with Store.open(run.home) as store:
        report = verify_store(store, run.home)
        n, problems = audit.check(store, run.home)
        cp = publish_head(store, run.home)
    for p in [*report.problems, *problems]:
        run.console.print(f"  PROBLEM {p}", highlight=False)
    run.console.print(f"  checkpoint {json.dumps(cp)}", highlight=False, markup=False)
    state = "verified" if report.ok else "DOES NOT VERIFY"
    honoured = "opt-outs honoured" if not problems else "OPT-OUTS BREACHED"
    return (
        f"{report.tree_size} entries {state}; {honoured} in {n} releases; "
        f"signed head {cp['root_hash'][:16]}... at size {cp['tree_size']}"
    )
