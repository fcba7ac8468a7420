"""The realistic faults are there, and are what the truth says they are."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from pupilshare.synth import names

PERSON_DATASETS = ("census", "ks_results", "ncmp", "qualifications", "survey_contacts")


def one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def _all_people(con: duckdb.DuckDBPyConnection, cols: str) -> str:
    return " UNION ALL ".join(
        f"SELECT '{d}' AS ds, {cols} FROM {d}" for d in PERSON_DATASETS
    )


def test_some_dates_of_birth_have_day_and_month_swapped(con) -> None:
    rows = con.execute(f"""
        WITH d AS ({_all_people(con, "person_id, date_of_birth")}),
        v AS (SELECT person_id, list(DISTINCT date_of_birth) AS dobs FROM d
              WHERE date_of_birth NOT LIKE '%-02-31' GROUP BY person_id)
        SELECT dobs FROM v WHERE len(dobs) > 1""").fetchall()
    assert len(rows) >= 3
    for (dobs,) in rows:
        assert len(dobs) == 2
        (y1, m1, d1), (y2, m2, d2) = (x.split("-") for x in dobs)
        assert (y1, m1, d1) == (y2, d2, m2)  # only ever a swap of day and month


def test_temporary_upns_are_later_replaced_with_former_upn_set(con) -> None:
    replaced = one(
        con,
        """
        SELECT count(DISTINCT a.person_id) FROM census a JOIN census b
          ON a.person_id = b.person_id AND b.former_upn = a.upn
         AND b.census_date > a.census_date
        WHERE regexp_full_match(a.upn, '.*[A-Z]') AND b.upn <> a.upn
          AND regexp_full_match(b.upn, '.*[0-9]')""",
    )
    assert replaced >= 3


def test_some_upns_are_missing_and_ncmp_mostly_has_none(con) -> None:
    assert one(con, "SELECT count(*) FROM ks_results WHERE upn IS NULL") > 0
    assert one(con, "SELECT avg((upn IS NOT NULL)::INT) FROM ncmp") < 0.25
    assert one(con, "SELECT count(*) FROM survey_contacts WHERE upn IS NULL") > 0


def test_changed_surnames_keep_the_former_one(con) -> None:
    rows = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE EXISTS (
          SELECT 1 FROM census b WHERE b.person_id = a.person_id
            AND b.surname = a.former_surname AND b.census_date < a.census_date))
        FROM census a WHERE a.former_surname IS NOT NULL""").fetchall()[0]
    assert rows[0] > 0 and rows[1] > 0


def test_nicknames_and_typos_appear_against_the_legal_forename(con) -> None:
    con.register(
        "nick",
        pa.table(
            {"formal": list(names.NICKNAMES), "nick": list(names.NICKNAMES.values())}
        ),
    )
    con.register("legal", pa.table({"name": list(names.BOYS) + list(names.GIRLS)}))
    pairs = con.execute(f"""
        WITH f AS ({_all_people(con, "person_id, forename")}),
        truth AS (SELECT person_id, mode(forename) AS legal FROM census
                  GROUP BY person_id)
        SELECT f.forename, t.legal, n.nick IS NOT NULL AS is_nick
        FROM f JOIN truth t USING (person_id)
        LEFT JOIN nick n ON n.formal = t.legal AND n.nick = f.forename
        WHERE f.forename <> t.legal""").fetchall()
    assert any(is_nick for *_, is_nick in pairs)
    typos = [
        (a, b)
        for a, b, is_nick in pairs
        if not is_nick and a not in names.BOYS + names.GIRLS
    ]
    assert typos
    for typo, legal in typos:
        assert abs(len(typo) - len(legal)) <= 1 and typo[0] == legal[0]


def test_people_move_home_school_and_la(con) -> None:
    moved = con.execute("""
        SELECT count(*) FILTER (WHERE postcodes > 1),
               count(*) FILTER (WHERE las > 1)
        FROM (SELECT person_id, count(DISTINCT postcode) AS postcodes,
                     count(DISTINCT substr(laestab, 1, 3)) AS las
              FROM census GROUP BY person_id)""").fetchall()[0]
    assert moved[0] > 20 and moved[1] > 5


def test_new_reception_cohorts_join_and_pupils_leave(con) -> None:
    rec = con.execute("""SELECT DISTINCT census_date FROM census
                         WHERE ncyear = 'R' AND month(census_date::DATE) = 10""")
    assert len(rec.fetchall()) == 4
    last = con.execute("""
        SELECT ncyear, count(*) FROM (
          SELECT person_id, arg_max(ncyear, census_date) AS ncyear,
                 max(census_date) AS last FROM census GROUP BY person_id)
        WHERE last < (SELECT max(census_date) FROM census) GROUP BY ncyear""")
    left = dict(last.fetchall())
    assert left.get("11", 0) > 0 and left.get("13", 0) > 0  # leave after 11 or 13
    assert sum(v for k, v in left.items() if k not in ("11", "13")) > 0  # move away


def test_uln_only_from_year_10_and_on_most_qualifications(con) -> None:
    assert (
        one(
            con,
            """SELECT count(*) FROM census WHERE uln IS NOT NULL
                       AND (ncyear = 'R' OR ncyear::INT < 10)""",
        )
        == 0
    )
    assert one(con, "SELECT count(*) FROM census WHERE uln IS NOT NULL") > 0
    assert one(con, "SELECT avg((uln IS NOT NULL)::INT) FROM qualifications") > 0.8


def test_fsm_changes_over_time_and_rates_are_plausible(con) -> None:
    assert (
        one(
            con,
            """SELECT count(*) FROM (SELECT person_id FROM census
                       GROUP BY person_id HAVING count(DISTINCT fsm_eligible) = 2)""",
        )
        > 0
    )
    assert 0.12 < one(con, "SELECT avg((fsm_eligible = 'Y')::INT) FROM census") < 0.35
    assert 0.5 < one(con, "SELECT avg((ethnicity = 'WBRI')::INT) FROM census") < 0.8
    other = one(con, "SELECT avg((first_language = 'OTH')::INT) FROM census")
    assert 0.1 < other < 0.3  # about a fifth of pupils in England
    # English as a first language goes with White British far more than otherwise.
    by_group = dict(
        con.execute("""
        SELECT ethnicity = 'WBRI', avg((first_language = 'OTH')::INT) FROM census
        GROUP BY 1""").fetchall()
    )
    assert by_group[True] < 0.05 < 0.3 < by_group[False]
    sen = dict(
        con.execute(
            "SELECT sen_provision, count(*) / sum(count(*)) OVER () "
            "FROM census GROUP BY 1"
        ).fetchall()
    )
    assert 0.02 < sen["E"] < 0.07 and 0.08 < sen["K"] < 0.18
    consent = one(con, "SELECT avg((contact_consent = 'Y')::INT) FROM survey_contacts")
    assert 0.55 < consent < 0.85


def test_outcomes_follow_one_ability(con) -> None:
    r = one(
        con,
        """
        SELECT corr(a.scaled_score::INT, b.scaled_score::INT) FROM ks_results a
        JOIN ks_results b USING (person_id)
        WHERE a.subject = 'READ' AND b.subject = 'MATH' AND a.key_stage = '2'
          AND b.key_stage = '2'""",
    )
    assert r > 0.3
    mean = one(con, "SELECT avg(scaled_score::INT) FROM ks_results")
    assert 100 < mean < 108
    g = one(
        con,
        """
        SELECT corr(k.scaled_score::INT, q.grade::INT) FROM ks_results k
        JOIN qualifications q USING (person_id)
        WHERE k.subject = 'MATH' AND q.subject = 'Mathematics' AND q.grade <> 'U'""",
    )
    assert g is None or g > 0.2
