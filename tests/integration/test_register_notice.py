"""The public register and the privacy notice: every active agreement, no inactive
one, and the releases made so far (read from the store)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.governance import db, seeds, workflow
from pupilshare.governance.models import Agreement
from pupilshare.governance.register import COLUMNS, write_register


@pytest.fixture
def session(db_url: str, seed: Callable[[], tuple[Session, Any]]) -> Iterator[Session]:
    s, out = seed()
    chief = seeds.sign_in(s, out.credentials["cass.chief"])
    workflow.revoke(s, chief, "ons-matching", "study ended")
    yield s
    s.close()
    db.dispose(db_url)


def _releases(home: Home) -> None:
    """Three releases as the ledger records them (the register reads the ledger)."""
    from pupilshare.ledger import log
    from pupilshare.store import Store

    with Store.open(home) as store:
        for rid, aid, n in (
            ("r1", "dh-ncmp", 1200),
            ("r2", "dh-ncmp", 1300),
            ("r3", "ons-matching", 10),
        ):
            log.append(
                store,
                home,
                {
                    "kind": "release",
                    "release_id": rid,
                    "agreement_id": aid,
                    "row_count": n,
                    "created_at": "2026-01-05T10:00:00+00:00",
                },
            )


def test_register_has_every_active_agreement_and_its_releases(
    session: Session, home: Home
) -> None:
    _releases(home)
    paths = write_register(session, home, home.root / "register")
    with paths["register_csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    active = {a["id"] for a in seeds.read_seeds()["agreements"]} - {"ons-matching"}
    assert {r["reference"] for r in rows if r["row_type"] == "agreement"} == active
    assert all(r["reference"] != "ons-matching" for r in rows)
    assert "lrs-younger-learners" not in {r["reference"] for r in rows}
    dh = next(r for r in rows if r["reference"] == "dh-ncmp")
    assert dh["releases_made"] == "2"
    assert [r["release_id"] for r in rows if r["row_type"] == "release"] == ["r1", "r2"]
    lrs = next(r for r in rows if r["reference"] == "lrs-uln-plr")
    assert "census.upn (tier 4 not sensitive, identifying)" in lrs["items"]
    assert lrs["decided_by"] == "Chief Statistician" and lrs["decision_date"]
    assert lrs["opt_outs_applied"].startswith("yes")
    html = paths["register_html"].read_text()
    live_html, ended_html = html.split("Shares no longer in force")
    assert live_html.count('<tr class="agreement">') == len(active)
    assert "ons-matching" not in live_html and "ons-matching" in ended_html
    with paths["ended_csv"].open() as f:
        ended = list(csv.DictReader(f))
    assert [(r["row_type"], r["reference"], r["status"]) for r in ended] == [
        ("agreement", "ons-matching", "revoked"),
        ("release", "ons-matching", ""),
    ]


def test_notice_names_every_live_share_and_nothing_else(
    session: Session, home: Home
) -> None:
    paths = write_register(session, home, home.root / "register")
    text = paths["notice_text"].read_text()
    html = paths["notice_html"].read_text()
    for ag_id in {a["id"] for a in seeds.read_seeds()["agreements"]} - {"ons-matching"}:
        ag = session.get(Agreement, ag_id)
        assert ag.purpose in text, ag_id
        assert ag.organisation.name in text
        assert ag.organisation.name.replace("'", "&#x27;") in html
    assert "Office for National Statistics" not in text
    assert session.get(Agreement, "ons-matching").purpose not in text
    assert catalogue.dataset("ncmp").title in text
    assert "15 agreements in force with 12 organisations" in text


def test_notice_says_what_the_department_s_notice_said(
    session: Session, home: Home
) -> None:
    """The seed notice's promises: the data controller, how to ask for one's data,
    opting out of sharing achievements in the learning record, information back to
    authorities and institutions, and matching with survey responses."""
    text = " ".join(
        write_register(session, home, home.root / "r")["notice_text"]
        .read_text()
        .split()
    )
    for words in (
        "Department for Education is the data controller",
        "To make a subject access request, contact the Department for Education",
        "Great Smith Street",
        "opt out of sharing their achievement data in their personal learning record",
        "information back to local authorities and learning institutions",
        "match data from these sources to data obtained from statistical surveys",
        "the views of children and young people",
        "Care Quality Commission",
    ):
        assert words in text, words
