"""The clerical review queue: accept merges, reject keeps, ULNs stay retired."""

from __future__ import annotations

from datetime import date

import pytest

from pupilshare.config import Home
from pupilshare.errors import Conflict, NotFound
from pupilshare.match import (
    accept_review,
    list_reviews,
    reject_review,
    run_match,
    show_review,
)
from pupilshare.store import Store
from pupilshare.synth.labelled_records import add_records

REF = date(2025, 6, 1)
# Thresholds wide apart, so a near match is neither joined nor left alone: queued.
WIDE = {"upper_threshold": 0.999999, "lower_threshold": 0.001}


def _census(dob: str) -> dict:
    return {
        "census_date": "2025-01-16",
        "laestab": "3802000",
        "upn": "A201361424123",
        "surname": "OKONJO",
        "forename": "AMARA",
        "date_of_birth": dob,
        "sex": "F",
        "postcode": "LS1 4AB",
        "ncyear": "7",
        "ethnicity": "WBRI",
        "first_language": "ENG",
        "enrol_status": "C",
        "sen_provision": "N",
        "fsm_eligible": "N",
    }


def _survey(dob: str) -> dict:
    return {
        "collected_date": "2025-03-01",
        "surname": "OKONJO",
        "forename": "AMRA",
        "date_of_birth": dob,
        "sex": "F",
        "postcode": "LS1 4AB",
        "parent_name": "N OKONJO",
        "contact_consent": "Y",
    }


@pytest.fixture
def queued(home: Home) -> Home:
    """One census pupil (aged 16, so holding a ULN) and a survey record queued
    against it, itself a provisional pupil with a ULN of its own."""
    with Store.open(home) as store:
        add_records(store, "census", [_census("2009-03-04")])
        run_match(store, home, reference_date=REF, overrides=WIDE)
        add_records(store, "survey_contacts", [_survey("2009-03-04")])
        r = run_match(store, home, reference_date=REF, overrides=WIDE)
        assert r.review == 1 and r.pupils == 2
    return home


def test_show_explains_the_decision(queued: Home) -> None:
    with Store.open(queued) as store:
        [item] = list_reviews(store)
        shown = show_review(store, item["review_id"])
    assert 0.001 <= shown["match_probability"] < 0.999999
    assert shown["comparisons"]["surname"]["level"].lower().startswith("exact")
    assert shown["comparisons"]["date_of_birth"]["weight"] > 0
    assert shown["comparisons"]["date_of_birth"]["level"] == "exact"
    assert shown["candidate"]["forename"] == "AMARA"
    assert [r["forename"] for r in shown["records"]] == ["AMRA"]
    assert "pupil_key" not in shown and "pupil_key" not in shown["candidate"]


def test_accept_merges_into_the_candidate_and_retires_its_uln(queued: Home) -> None:
    with Store.open(queued) as store:
        [item] = list_reviews(store)
        retired = store.rows("SELECT uln FROM uln_issued ORDER BY match_run")[1][0]
        accept_review(store, item["review_id"], "reviewer")
        assert store.rows("SELECT count(*) FROM pupils")[0][0] == 1
        assert store.rows("SELECT count(DISTINCT pupil_key) FROM pupil_links") == [(1,)]
        assert store.rows("SELECT count(DISTINCT pupil_key) FROM pupil_history") == [
            (1,)
        ]
        names = store.rows("SELECT DISTINCT forename FROM pupil_history ORDER BY 1")
        assert names == [("AMARA",), ("AMRA",)]
        assert store.rows(
            "SELECT count(*) FROM pupil_identifiers WHERE kind = 'uln' AND value = ?",
            [retired],
        ) == [(0,)]
        assert list_reviews(store) == []
        assert list_reviews(store, "accepted")[0]["status"] == "accepted"
        with pytest.raises(Conflict):
            accept_review(store, item["review_id"], "reviewer")
        # A new learner later gets a fresh number, never the retired one.
        add_records(
            store,
            "census",
            [
                {
                    **_census("2008-01-20"),
                    "upn": "R936401223457",
                    "forename": "ZED",
                    "surname": "NEW",
                }
            ],
        )
        run_match(store, queued, reference_date=REF, overrides=WIDE)
        ulns = [u for (u,) in store.rows("SELECT uln FROM uln_issued")]
        assert len(ulns) == len(set(ulns)) == 3
        held = store.rows("SELECT value FROM pupil_identifiers WHERE kind = 'uln'")
        assert retired not in {u for (u,) in held}


def test_reject_keeps_the_records_apart(queued: Home) -> None:
    with Store.open(queued) as store:
        [item] = list_reviews(store)
        reject_review(store, item["review_id"], "reviewer")
        assert store.rows("SELECT count(*) FROM pupils")[0][0] == 2
        methods = store.rows("SELECT method FROM pupil_links ORDER BY match_run")
        assert methods == [("exact_upn",), ("review_rejected",)]
        assert store.rows("SELECT decided_by FROM match_review") == [("reviewer",)]


def test_unknown_review_item(home: Home) -> None:
    with Store.open(home) as store, pytest.raises(NotFound):
        show_review(store, 99)


def test_accept_moves_opt_outs_and_release_records_to_the_kept_pupil(
    queued: Home,
) -> None:
    with Store.open(queued) as store:
        [item] = list_reviews(store)
        [(retired, kept)] = store.rows(
            "SELECT pupil_key, candidate_key FROM match_review WHERE review_id = ?",
            [item["review_id"]],
        )
        store.execute(
            "CREATE TABLE opt_outs (pupil_key BIGINT, scope VARCHAR, "
            "recorded_at TIMESTAMP)"
        )
        store.execute("INSERT INTO opt_outs VALUES (?, 'all', now())", [retired])
        store.execute(
            "CREATE TABLE release_pupils (release_id VARCHAR, pupil_key BIGINT)"
        )
        store.execute("INSERT INTO release_pupils VALUES ('r1', ?)", [retired])
        accept_review(store, item["review_id"], "reviewer")
        assert store.rows("SELECT pupil_key FROM opt_outs") == [(kept,)]
        assert store.rows("SELECT pupil_key FROM release_pupils") == [(kept,)]
        assert store.rows("SELECT retired_key, pupil_key FROM pupil_merges") == [
            (retired, kept)
        ]
