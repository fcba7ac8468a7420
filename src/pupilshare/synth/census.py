"""The census: every person on roll in every term, and the census returns.

Rows come from joining people to the terms they are on roll; which school, home
postcode, UPN, surname and forename a row shows depends on the term (moves, temporary
UPNs, surname changes, a secondary school's variant of a name). The other datasets
take their identity from the census row of the right term, so each fault shows
through everywhere.
"""

from __future__ import annotations

import duckdb

from pupilshare.synth import faults
from pupilshare.synth.tables import project


def build_census(con: duckdb.DuckDBPyConnection) -> None:
    """``cen``: every person on roll in every term, with who they appear to be then."""
    variant = faults.nickname_or_typo_sql("s.forename", "nk.nick", "s.k")
    # Rows in a return are in name order: rank people once, sort on integers.
    con.execute("""
    CREATE OR REPLACE TABLE name_rank AS SELECT person_id,
      row_number() OVER (ORDER BY surname, forename, person_id) AS name_rank
    FROM people""")
    con.execute(f"""
    CREATE OR REPLACE TABLE cen AS
    WITH pp AS (
      SELECT p.*, ta.census_date - 14 AS arrival_date, tm.census_date - 21 AS move_date
      FROM people p
      LEFT JOIN terms ta ON ta.t = p.start_t AND p.arrival
      LEFT JOIN terms tm ON tm.t = p.move_t
    ), r AS (
      SELECT pp.*, t.t, t.year, t.term, t.census_date, t.year - pp.cohort AS ncy,
             t.t >= pp.move_t AS moved
      FROM pp JOIN terms t ON t.t BETWEEN pp.start_t AND pp.end_t
    ), s AS (
      SELECT r.*,
        CASE WHEN ncy <= 6 THEN (CASE WHEN moved THEN prim_b ELSE prim_a END)
             ELSE (CASE WHEN moved THEN sec_b ELSE sec_a END) END AS school,
        CASE WHEN ncy <= 6 THEN prim_a ELSE sec_a END AS school_before,
        CASE WHEN moved THEN pc_b ELSE pc_a END AS pc_idx
      FROM r
    )
    SELECT s.person_id, s.t, s.year, s.term, s.census_date, s.ncy, s.school,
      sc.laestab, sc.la_code, s.pc_idx, pc.postcode, s.sex, s.ethnicity,
      s.first_language, s.sen, f.fsm, s.dob AS true_dob, s.swappable, nr.name_rank,
      CASE WHEN s.t < s.temp_until THEN s.temp_upn ELSE s.upn END AS upn,
      CASE WHEN s.temp_upn IS NOT NULL AND s.t >= s.temp_until
           THEN s.temp_upn END AS former_upn,
      CASE WHEN s.ncy >= 10 AND s.uln_in_census THEN s.uln END AS uln,
      CASE WHEN s.t >= s.surname_t THEN s.new_surname ELSE s.surname END AS surname,
      CASE WHEN s.t >= s.surname_t THEN s.surname END AS former_surname,
      CASE WHEN s.variant AND s.ncy >= 7 THEN {variant} ELSE s.forename END
        AS forename,
      CASE WHEN s.dobswap AND s.ncy >= 7 THEN {faults.swapped_sql("s.dob")}
           ELSE s.dob END AS date_of_birth,
      greatest(make_date(s.cohort + CASE WHEN s.ncy <= 6 THEN 0 ELSE 7 END, 9, 1),
               CASE WHEN s.arrival THEN s.arrival_date END,
               CASE WHEN s.moved AND s.school <> s.school_before THEN s.move_date END)
        AS entry_date
    FROM s
    JOIN schools sc ON sc.idx = s.school
    JOIN postcodes pc ON pc.idx = s.pc_idx
    JOIN fsm f ON f.person_id = s.person_id AND f.year = s.year
    JOIN name_rank nr ON nr.person_id = s.person_id
    LEFT JOIN nick nk ON nk.formal = s.forename
    """)


def census_src(con: duckdb.DuckDBPyConnection) -> None:
    cols = project(
        "census",
        {
            "census_date": "census_date",
            "laestab": "laestab",
            "upn": "upn",
            "former_upn": "former_upn",
            "uln": "uln",
            "surname": "surname",
            "forename": "forename",
            "date_of_birth": "date_of_birth",
            "sex": "sex",
            "former_surname": "former_surname",
            "postcode": "postcode",
            "ethnicity": "ethnicity",
            "first_language": "first_language",
            "ncyear": "CASE WHEN ncy = 0 THEN 'R' ELSE CAST(ncy AS VARCHAR) END",
            "enrol_status": "'C'",
            "entry_date": "entry_date",
            "sen_provision": "sen",
            "fsm_eligible": "fsm",
        },
    )
    con.execute(f"""
    CREATE OR REPLACE VIEW src_census AS
    SELECT 'census/census_' || year || '_' || term || '_' || laestab || '.csv' AS file,
           person_id, t, school, name_rank, 0 AS dup, {cols}
    FROM cen""")
