"""A match run on a small labelled nation, and on hand-written records."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from pupilshare.config import Home
from pupilshare.identifiers import is_valid_uln
from pupilshare.match import accuracy, run_match
from pupilshare.store import Store
from pupilshare.synth.labelled_records import add_records, generate

REF = date(2025, 6, 1)


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """An 800-pupil nation matched once; tests copy it before changing it."""
    home = Home(tmp_path_factory.mktemp("matched") / "home").ensure()
    with Store.open(home) as store:
        generate(store, 800, seed=3, nation=home.root / "nation")
        run_match(store, home, reference_date=REF)
    return home


@pytest.fixture
def copy(matched: Home, tmp_path: Path) -> Home:
    shutil.copytree(matched.root, tmp_path / "home")
    return Home(tmp_path / "home")


def rows(home: Home, sql: str) -> list[tuple]:
    with Store(home.store_path, read_only=True) as s:
        return s.rows(sql)


def test_every_usable_record_links_to_exactly_one_pupil(matched: Home) -> None:
    total = sum(
        rows(matched, f"SELECT count(*) FROM ds_{d}")[0][0]
        for d in ("census", "ks_results", "ncmp", "qualifications", "survey_contacts")
    )
    links, distinct = rows(
        matched,
        "SELECT count(*), count(DISTINCT (dataset, "
        "collection_id, line)) FROM pupil_links",
    )[0]
    unusable = rows(matched, "SELECT count(*) FROM match_unusable")[0][0]
    assert links == distinct
    assert links + unusable == total
    orphans = rows(
        matched, "SELECT count(*) FROM pupil_links ANTI JOIN pupils USING (pupil_key)"
    )[0][0]
    assert orphans == 0


def test_accuracy_meets_the_goal_on_the_sample(matched: Home) -> None:
    with Store(matched.store_path, read_only=True) as s:
        acc = accuracy(s, matched.root / "nation" / "truth.csv")
    assert acc["f1"] >= 0.99
    assert acc["precision"] >= 0.995
    assert acc["review_share"] < 0.01


def test_typo_names_without_upn_link_through_splink(matched: Home) -> None:
    # NCMP records carry no UPN, and some have typos: Splink must link them to the
    # census pupil, including ones whose names differ from the index.
    linked = rows(
        matched,
        """
        SELECT count(*) FROM pupil_links l JOIN ds_ncmp n
            ON n.collection_id = l.collection_id AND n.line = l.line
        JOIN pupils p USING (pupil_key)
        WHERE l.dataset = 'ncmp' AND l.method = 'splink'
          AND (upper(n.forename) <> p.forename OR upper(n.surname) <> p.surname)
    """,
    )[0][0]
    assert linked > 0


def test_unusable_records_are_reported_not_linked(matched: Home) -> None:
    bad = rows(
        matched,
        "SELECT dataset, collection_id, line FROM ds_ks_results "
        "JOIN collections USING (collection_id) WHERE forename = '.' "
        "AND upn IS NULL",
    )
    assert bad
    reported = rows(
        matched, "SELECT count(*) FROM match_unusable WHERE dataset = 'ks_results'"
    )[0][0]
    assert reported >= len(bad)
    linked = rows(
        matched,
        "SELECT count(*) FROM pupil_links l JOIN ds_ks_results k "
        "USING (collection_id, line) WHERE l.dataset = 'ks_results' "
        "AND k.forename = '.' AND k.upn IS NULL",
    )[0][0]
    assert linked == 0


def test_ulns_one_per_pupil_valid_and_never_shared(matched: Home) -> None:
    assert (
        rows(
            matched,
            "SELECT count(*) FROM (SELECT pupil_key FROM "
            "pupil_identifiers WHERE kind = 'uln' GROUP BY 1 "
            "HAVING count(*) > 1)",
        )[0][0]
        == 0
    )
    assert (
        rows(
            matched,
            "SELECT count(*) FROM (SELECT value FROM pupil_identifiers "
            "WHERE kind = 'uln' GROUP BY 1 HAVING count(*) > 1)",
        )[0][0]
        == 0
    )
    missing = rows(
        matched,
        f"""
        SELECT count(*) FROM pupils WHERE uln IS NULL AND (
            date_of_birth + INTERVAL 14 YEAR <= DATE '{REF}' OR pupil_key IN
            (SELECT pupil_key FROM pupil_links WHERE dataset = 'qualifications'))""",
    )
    assert missing[0][0] == 0
    issued = [u for (u,) in rows(matched, "SELECT uln FROM uln_issued")]
    assert issued and all(is_valid_uln(u) for u in issued)


def _census(upn: str, dob: str, fore: str = "AMARA", sur: str = "OKONJO") -> dict:
    return {
        "census_date": "2025-01-16",
        "laestab": "3802000",
        "upn": upn,
        "surname": sur,
        "forename": fore,
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


def test_exact_upn_pass_and_swapped_day_month(home: Home) -> None:
    upn = "A201361424123"
    with Store.open(home) as store:
        add_records(store, "census", [_census(upn, "2012-03-04")])
        add_records(store, "census", [_census(upn, "2012-04-03", fore="AMRA")])
        r = run_match(store, home, reference_date=REF)
        assert r.exact == 2 and r.pupils == 1
        methods = store.rows("SELECT DISTINCT method FROM pupil_links")
        assert methods == [("exact_upn",)]
        assert store.rows(
            "SELECT kind, value FROM pupil_identifiers WHERE kind = 'upn'"
        ) == [("upn", upn)]


def test_upn_with_disagreeing_dob_is_not_an_exact_match(home: Home) -> None:
    with Store.open(home) as store:
        add_records(store, "census", [_census("A201361424123", "2012-03-04")])
        run_match(store, home, reference_date=REF)
        add_records(store, "census", [_census("A201361424123", "2013-09-21")])
        run_match(store, home, reference_date=REF)
        methods = store.rows("SELECT method FROM pupil_links WHERE match_run = 2")
        assert methods and methods[0][0] != "exact_upn"


def test_qualification_carrying_uln_matches_on_it(copy: Home) -> None:
    with Store.open(copy) as store:
        # the surname changed since (the forename agrees): the ULN still decides
        key, uln, dob, fore = store.rows(
            "SELECT pupil_key, uln, date_of_birth, forename FROM pupils "
            "WHERE uln IS NOT NULL ORDER BY pupil_key LIMIT 1"
        )[0]
        add_records(
            store,
            "qualifications",
            [
                {
                    "awarding_body": "AQA",
                    "award_date": "2025-08-20",
                    "uln": uln,
                    "surname": "ENTIRELYDIFFERENT",
                    "forename": fore,
                    "date_of_birth": str(dob),
                    "sex": "M",
                    "qual_type": "GCSE",
                    "subject": "Maths",
                    "grade": "7",
                }
            ],
        )
        r = run_match(store, copy, reference_date=REF)
        assert r.records == 1 and r.exact == 1
        got = store.rows(
            "SELECT pupil_key, method FROM pupil_links WHERE match_run = ?", [r.run]
        )
        assert got == [(key, "exact_uln")]


def test_incremental_run_touches_only_new_records(copy: Home) -> None:
    with Store.open(copy) as store:
        before = store.rows("SELECT * FROM pupil_links ORDER BY ALL")
        mtime = (copy.root / "match-model.json").stat().st_mtime
        again = run_match(store, copy, reference_date=REF)
        assert again.records == 0 and again.new_pupils == 0
        generate(store, 40, seed=99, census_terms=1, nation=copy.root / "n2")
        r = run_match(store, copy, reference_date=REF)
        assert not r.retrained
        assert (copy.root / "match-model.json").stat().st_mtime == mtime
        new = store.rows(
            "SELECT count(*) FROM pupil_links WHERE match_run = ?", [r.run]
        )[0][0]
        assert r.records == new + r.unusable and new > 0
        old = store.rows(
            "SELECT * FROM pupil_links WHERE match_run < ? ORDER BY ALL", [r.run]
        )
        assert old == before


def test_retrain_writes_the_model_and_charts(copy: Home) -> None:
    with Store.open(copy) as store:
        generate(store, 30, seed=5, census_terms=1, nation=copy.root / "n3")
        r = run_match(store, copy, retrain=True, reference_date=REF)
    assert r.retrained
    assert {Path(c).name for c in r.charts} == {
        "match-model.html",
        "match-weights.png",
        "m-u-parameters.png",
    }
    assert all(Path(c).stat().st_size > 1000 for c in r.charts)


def test_history_keeps_every_name_and_postcode_seen(matched: Home) -> None:
    # Each pupil's history holds the exact spellings its records carried.
    got = rows(
        matched,
        """
        SELECT count(*) FROM pupil_links l JOIN ds_ncmp n
            ON n.collection_id = l.collection_id AND n.line = l.line
        WHERE l.dataset = 'ncmp' AND NOT EXISTS (
            SELECT 1 FROM pupil_history h WHERE h.pupil_key = l.pupil_key
              AND h.surname = upper(n.surname) AND h.forename = upper(n.forename))
    """,
    )
    assert got == [(0,)]
    assert rows(matched, "SELECT count(DISTINCT pupil_key) FROM pupil_history") == (
        rows(matched, "SELECT count(*) FROM pupils")
    )


def test_two_pupils_sharing_name_and_birth_date_stay_apart(home: Home) -> None:
    # Two census pupils alike in all but UPN, and a UPN-less record like both: the
    # two are never merged, and the record, as like one as the other, goes with
    # neither on a coin toss: it is left apart and queued.
    twins = [
        _census("A201361424123", "2012-03-04"),
        _census("R936401223457", "2012-03-04"),
    ]
    survey = {
        "collected_date": "2025-03-01",
        "surname": "OKONJO",
        "forename": "AMARA",
        "date_of_birth": "2012-03-04",
        "sex": "F",
        "postcode": "LS1 4AB",
        "parent_name": "N OKONJO",
        "contact_consent": "Y",
    }
    with Store.open(home) as store:
        add_records(store, "census", twins)
        add_records(store, "survey_contacts", [survey])
        r = run_match(store, home, reference_date=REF)
        assert (r.pupils, r.review) == (3, 1)
        upns = store.rows(
            "SELECT pupil_key, count(*) FROM pupil_identifiers "
            "WHERE kind = 'upn' GROUP BY 1"
        )
        assert sorted(n for _, n in upns) == [1, 1]
        per_pupil = store.rows("SELECT count(*) FROM pupil_links GROUP BY pupil_key")
        assert sorted(n for (n,) in per_pupil) == [1, 1, 1]


def _contact(fore: str, sur: str, dob: str, postcode: str = "LS1 4AB") -> dict:
    return {
        "collected_date": "2025-03-01",
        "surname": sur,
        "forename": fore,
        "date_of_birth": dob,
        "sex": "F",
        "postcode": postcode,
        "parent_name": f"N {sur}",
        "contact_consent": "Y",
    }


@pytest.mark.parametrize(
    ("over", "pupils", "review"),
    [
        ({}, 1, 0),  # alike above the upper threshold: one pupil
        # the same pair between wide thresholds: queued, not dropped
        ({"upper_threshold": 0.999999, "lower_threshold": 0.001}, 2, 1),
        # and below the lower threshold: two pupils, nothing queued
        ({"upper_threshold": 0.9999999, "lower_threshold": 0.999999}, 2, 0),
    ],
)
def test_two_new_records_alike_join_queue_or_stay_apart(
    home: Home, over: dict, pupils: int, review: int
) -> None:
    # Two records without identifiers, like each other and like nobody in the index.
    with Store.open(home) as store:
        add_records(store, "census", [_census("A201361424123", "2010-07-21")])
        run_match(store, home, reference_date=REF)
        add_records(
            store,
            "survey_contacts",
            [
                _contact("BEATRIX", "WOJCIK", "2012-03-04"),
                _contact("BEATRICE", "WOJCIK", "2012-03-04"),
            ],
        )
        r = run_match(store, home, reference_date=REF, overrides=over)
        assert (r.pupils - 1, r.review) == (pupils, review)
        if review:
            item = store.rows(
                "SELECT r.pupil_key, r.candidate_key, r.match_probability "
                "FROM match_review r"
            )[0]
            keys = {
                k
                for (k,) in store.rows(
                    "SELECT pupil_key FROM pupil_links WHERE match_run = ?", [r.run]
                )
            }
            assert {item[0], item[1]} == keys
            assert 0.001 <= item[2] < 0.999999


def test_record_under_a_temporary_upn_meets_the_pupil_that_replaced_it(
    home: Home,
) -> None:
    # A school's temporary UPN, later named as the former UPN of the permanent one:
    # a record kept only under the temporary UPN belongs to that pupil.
    temp = "B83740042100E"
    later = {
        **_census("U837400421007", "2009-07-15", "ALEX", "SMITH"),
        "former_upn": temp,
        "postcode": "FH4 7ZA",
    }
    early = {**_census(temp, "2009-07-15", "ALEX", "SMITH"), "postcode": None}
    with Store.open(home) as store:
        add_records(store, "census", [later])
        run_match(store, home, reference_date=REF)
        add_records(store, "census", [early])
        r = run_match(store, home, reference_date=REF)
        assert (r.pupils, r.new_pupils, r.review) == (1, 0, 0)


TEMP, PERM = "B83740042100E", "U837400421007"


def _two_pupils_one_person(store: Store, home: Home, later_dob: str) -> int:
    """A pupil indexed under a school's temporary UPN, another under a permanent UPN
    (no record linking the two yet), then a record of the permanent UPN naming the
    temporary one as its former UPN; the third run's number."""
    early = {**_census(TEMP, "2009-07-15", "ALEX", "SMITH"), "postcode": None}
    add_records(store, "census", [early])
    run_match(store, home, reference_date=REF)
    add_records(store, "census", [_census(PERM, later_dob, "ALEX", "SMITH")])
    run_match(store, home, reference_date=REF)
    assert store.one("SELECT count(*) FROM pupils") == 2
    store.execute(
        "CREATE TABLE IF NOT EXISTS opt_outs (pupil_key BIGINT, "
        "scope VARCHAR, recorded_at TIMESTAMP)"
    )
    store.execute(
        "INSERT INTO opt_outs SELECT pupil_key, 'all', now() FROM pupils "
        "WHERE upn IS NULL"
    )
    add_records(
        store,
        "census",
        [{**_census(PERM, later_dob, "ALEX", "SMITH"), "former_upn": TEMP}],
    )
    return run_match(store, home, reference_date=REF).run


def test_pupils_a_record_shows_are_one_person_are_merged(home: Home) -> None:
    # Exact evidence (a permanent UPN naming the other pupil's temporary UPN as its
    # former UPN, birth dates agreeing): the two pupils become one, and the opt-out
    # recorded against the retired pupil follows to the kept one.
    with Store.open(home) as store:
        run = _two_pupils_one_person(store, home, "2009-07-15")
        assert store.rows(
            "SELECT count(*), count(DISTINCT pupil_key) FROM pupil_links"
        ) == [(3, 1)]
        (kept,) = store.rows("SELECT pupil_key, upn FROM pupils")
        assert kept[1] == PERM
        merges = store.rows("SELECT pupil_key, review_id, match_run FROM pupil_merges")
        assert merges == [(kept[0], None, run)]
        assert store.rows("SELECT pupil_key FROM opt_outs") == [(kept[0],)]
        assert (
            store.one("SELECT merged FROM match_runs WHERE match_run = ?", [run]) == 1
        )
        assert store.one("SELECT count(*) FROM match_review") == 0


def test_pupils_shown_one_person_on_weaker_evidence_are_queued(home: Home) -> None:
    # The birth dates disagree: no merge on its own, but a pupil-pupil item in the
    # queue, which a clerk's accept merges exactly as a run would.
    from pupilshare.match import accept_review, show_review

    with Store.open(home) as store:
        _two_pupils_one_person(store, home, "2009-11-02")
        assert store.one("SELECT count(*) FROM pupils") == 2
        assert store.one("SELECT count(*) FROM pupil_merges") == 0
        (rid, prob, key, cand) = store.rows(
            "SELECT review_id, match_probability, pupil_key, candidate_key "
            "FROM match_review"
        )[0]
        assert prob is None
        assert store.one("SELECT upn FROM pupils WHERE pupil_key = ?", [cand]) == PERM
        assert (
            "former UPN"
            in show_review(store, rid)["comparisons"]["former_upn"]["level"]
        )
        accept_review(store, rid, "clerk")
        assert store.rows("SELECT pupil_key FROM pupils") == [(cand,)]
        assert store.rows("SELECT pupil_key FROM opt_outs") == [(cand,)]
        assert store.rows("SELECT retired_key, review_id FROM pupil_merges") == [
            (key, rid)
        ]


def test_a_record_as_like_two_pupils_joins_neither_and_is_queued(home: Home) -> None:
    # Two pupils alike in all but UPN are in the index; a record equally like both
    # joins neither on a coin toss: it is a new pupil for now, queued.
    twins = [
        _census("A201361424123", "2012-03-04"),
        _census("R936401223457", "2012-03-04"),
    ]
    with Store.open(home) as store:
        add_records(store, "census", twins)
        run_match(store, home, reference_date=REF)
        # a survey contact alike in name, birth date, sex and postcode, no UPN
        add_records(
            store, "survey_contacts", [_contact("AMARA", "OKONJO", "2012-03-04")]
        )
        r = run_match(store, home, reference_date=REF)
        assert (r.pupils, r.new_pupils, r.review) == (3, 1, 1)
        cand = store.one("SELECT candidate_key FROM match_review")
        assert store.one("SELECT upn FROM pupils WHERE pupil_key = ?", [cand]) in (
            "A201361424123",
            "R936401223457",
        )


def test_two_new_upns_never_join_one_pupil_on_names(home: Home) -> None:
    # A pupil known only from a record without a UPN; then two census records with
    # different permanent UPNs, each like that pupil. One pupil holds one permanent
    # UPN: they cannot both be it, so neither joins on a guess; both are queued.
    with Store.open(home) as store:
        add_records(
            store, "survey_contacts", [_contact("AMARA", "OKONJO", "2012-03-04")]
        )
        run_match(store, home, reference_date=REF)
        (known,) = store.rows("SELECT pupil_key FROM pupils")[0]
        add_records(
            store,
            "census",
            [
                _census("A201361424123", "2012-03-04"),
                _census("R936401223457", "2012-03-04"),
            ],
        )
        r = run_match(store, home, reference_date=REF)
        assert (r.pupils, r.new_pupils, r.review) == (3, 2, 2)
        assert store.rows("SELECT DISTINCT candidate_key FROM match_review") == [
            (known,)
        ]
        joined = store.one(
            "SELECT count(*) FROM pupil_links WHERE pupil_key = ?", [known]
        )
        assert joined == 1


@pytest.mark.parametrize(
    "contradiction",
    [
        # neither name like the pupil's, only the birth date agreeing
        {"forename": "ZEBEDEE", "surname": "QUARTERMAINE"},
        # the pupil's names, but a permanent UPN it never held while it holds one
        {"upn": "A201361424123"},
        # the pupil's names, but a school's temporary UPN its records never carried
        {"upn": "B83740042100E"},
    ],
)
def test_a_uln_contradicted_by_the_record_is_not_an_exact_match(
    copy: Home, contradiction: dict
) -> None:
    # A ULN the index holds is not proof when the record contradicts it: a ULN
    # keyed wrong, or attached to the wrong pupil by an earlier probabilistic join.
    with Store.open(copy) as store:
        key, uln, dob, upn, fore, sur = store.rows(
            "SELECT pupil_key, uln, date_of_birth, upn, forename, surname FROM pupils "
            "WHERE uln IS NOT NULL AND upn IS NOT NULL AND upn <> 'A201361424123' "
            "ORDER BY pupil_key LIMIT 1"
        )[0]
        record = {**_census(upn, str(dob), fore, sur), "uln": uln, **contradiction}
        if "upn" not in contradiction:
            record["upn"] = None
        add_records(store, "census", [record])
        r = run_match(store, copy, reference_date=REF)
        got = store.rows(
            "SELECT pupil_key, method FROM pupil_links WHERE match_run = ?", [r.run]
        )
        assert got and got[0][1] != "exact_uln"


def test_a_temporary_upn_never_joins_a_pupil_known_by_another_upn(home: Home) -> None:
    # A school's temporary UPN is an identity: a record under one, alike in name,
    # birth date, sex and postcode to a pupil holding a different UPN it is not
    # named for, is another child (two pupils alike): a new pupil, queued, even
    # where the thresholds would let the model's score join them.
    low = {"upper_threshold": 1e-7, "lower_threshold": 1e-12}
    with Store.open(home) as store:
        add_records(store, "census", [_census("A201361424123", "2012-03-04")])
        run_match(store, home, reference_date=REF)
        add_records(store, "census", [_census(TEMP, "2012-03-04")])
        r = run_match(store, home, reference_date=REF, overrides=low)
        assert (r.pupils, r.new_pupils, r.review) == (2, 1, 1)
        assert store.one("SELECT count(DISTINCT pupil_key) FROM pupil_links") == 2


def test_a_temporary_upn_is_an_identity_within_one_run(home: Home) -> None:
    # In one run from an empty index: a pupil under a permanent UPN, a pupil under
    # a school's temporary UPN alike in every other field, and a record without a
    # UPN like both. The two UPNs are two people: they never join through the
    # record, which goes with neither on a coin toss.
    with Store.open(home) as store:
        add_records(
            store,
            "census",
            [_census("A201361424123", "2012-03-04"), _census(TEMP, "2012-03-04")],
        )
        add_records(
            store, "survey_contacts", [_contact("AMARA", "OKONJO", "2012-03-04")]
        )
        r = run_match(store, home, reference_date=REF)
        assert (r.pupils, r.review) == (3, 1)
        assert store.one("SELECT count(DISTINCT pupil_key) FROM pupil_links") == 3


def test_a_temporary_upn_named_as_former_joins_its_permanent_upn_in_one_run(
    home: Home,
) -> None:
    # The same pupil's records before and after the permanent UPN, new in one run:
    # the former UPN makes them one identity, so they are one pupil, not split.
    later = {**_census(PERM, "2009-07-15", "ALEX", "SMITH"), "former_upn": TEMP}
    early = {**_census(TEMP, "2009-07-15", "ALEX", "SMITH"), "postcode": "FH4 7ZA"}
    with Store.open(home) as store:
        add_records(store, "census", [later, early])
        r = run_match(store, home, reference_date=REF)
        assert (r.pupils, r.review) == (1, 0)
        assert store.one("SELECT count(DISTINCT method) FROM pupil_links") == 1
