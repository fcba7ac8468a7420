"""Each dataset's rows, built in DuckDB from the people and their census terms.

Every builder makes a table ``src_<dataset>`` with ``file``, ``person_id``, sort
columns and the dataset's catalogue columns as text (so a fault can write any text,
such as a 31 February). ``finish`` numbers the lines of each file. Census rows come
from joining people to the terms they are on roll; the other datasets derive from
the census row of the right term, so a changed surname, a move or a temporary UPN
shows through everywhere, and then add their own slips on top.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from pupilshare import catalogue, growth
from pupilshare.synth import faults, names
from pupilshare.synth.people import Spec, _thursday

# What the other datasets take from a census row.
ROW_COLS = ", ".join(
    f"c.{c}"
    for c in (
        "person_id",
        "t",
        "year",
        "school",
        "laestab",
        "la_code",
        "pc_idx",
        "postcode",
        "ncy",
        "sex",
        "upn",
        "surname",
        "forename",
        "date_of_birth",
        "true_dob",
        "swappable",
        "ability",
        "k",
        "house",
        "h_sds",
        "b_sds",
        "person_uln",
        "name_rank",
        "f0",
        "f1",
        "f2",
        "f3",
        "f4",
        "f5",
        "f6",
        "f7",
        "f8",
    )
)


def add_randoms(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rng: np.random.Generator,
    uniforms: int = 0,
    normals: int = 0,
) -> None:
    """Attach per-row random columns u0.., z0.. in the table's stored order."""
    n = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    cols = {f"u{i}": rng.random(n) for i in range(uniforms)}
    cols.update({f"z{i}": rng.standard_normal(n) for i in range(normals)})
    con.register("_rand", pa.table(cols))
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} "
        "POSITIONAL JOIN _rand"
    )
    con.unregister("_rand")


def _project(ds: str, exprs: dict[str, str]) -> str:
    """Catalogue columns of ``ds`` in file order, each cast to text."""
    cols = catalogue.dataset(ds).columns
    missing = set(cols) ^ set(exprs)
    if missing:
        raise ValueError(f"{ds}: columns do not match the catalogue: {sorted(missing)}")
    return ", ".join(f"CAST({exprs[c]} AS VARCHAR) AS {c}" for c in cols)


def register_inputs(con: duckdb.DuckDBPyConnection, spec: Spec, tables: dict) -> None:
    for name, table in tables.items():
        con.register(name, table)
    con.register(
        "nick",
        pa.table(
            {"formal": list(names.NICKNAMES), "nick": list(names.NICKNAMES.values())}
        ),
    )
    con.register(
        "adult_names",
        pa.table(
            {
                "i": np.arange(len(names.BOYS) + len(names.GIRLS)),
                "name": list(names.BOYS) + list(names.GIRLS),
            }
        ),
    )
    con.register(
        "surname_list",
        pa.table({"i": np.arange(len(names.SURNAMES)), "name": list(names.SURNAMES)}),
    )
    con.register(
        "streets",
        pa.table({"i": np.arange(len(names.STREETS)), "name": list(names.STREETS)}),
    )
    years = list(range(spec.first_year, spec.first_year + spec.years))
    con.register(
        "award_days",
        pa.table(
            {
                "ad_year": years * 2,
                "ad_type": ["ALEVEL"] * len(years) + ["GCSE"] * len(years),
                "award_date": pa.array(
                    [_thursday(y + 1, 8, 3) for y in years]
                    + [_thursday(y + 1, 8, 4) for y in years],
                    pa.date32(),
                ),
            }
        ),
    )
    con.register("growth_lms_arrow", growth.lms_table())


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
      s.first_language, s.sen, f.fsm, s.dob AS true_dob, s.swappable, s.ability,
      s.k, s.house, s.h_sds, s.b_sds, s.uln AS person_uln, nr.name_rank,
      s.f0, s.f1, s.f2, s.f3, s.f4, s.f5, s.f6, s.f7, s.f8, s.f9,
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
    ORDER BY s.person_id, s.t
    """)


def census_src(con: duckdb.DuckDBPyConnection) -> None:
    cols = _project(
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


_KS_SUBJECTS = (
    [(1, s) for s in ("READ", "WRIT", "MATH", "SCI")]
    + [(2, s) for s in ("READ", "WRIT", "MATH", "GPS", "SCI")]
    + [(3, s) for s in ("ENG", "MATH", "SCI")]
)


def ks_src(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> None:
    """KS1 (Year 2), KS2 (Year 6) and KS3 (Year 9) results, driven by ability."""
    con.register(
        "ks_subjects",
        pa.table(
            {
                "ks": [k for k, _ in _KS_SUBJECTS],
                "subject": [s for _, s in _KS_SUBJECTS],
            }
        ),
    )
    con.execute(f"""
    CREATE OR REPLACE TABLE ks_base AS
    SELECT {ROW_COLS}, s.ks, s.subject FROM cen c
    JOIN ks_subjects s
      ON s.ks = CASE c.ncy WHEN 2 THEN 1 WHEN 6 THEN 2 WHEN 9 THEN 3 END
    WHERE c.term = 'summer' AND c.ncy IN (2, 6, 9)
    ORDER BY c.person_id, s.ks, s.subject""")
    add_randoms(con, "ks_base", rng, uniforms=1, normals=1)
    score = "(0.8 * ability + 0.6 * z0)"
    ks_typo = faults.typo_sql("forename", "k + 7")
    scaled = f"least(120, greatest(80, round(103.5 + 6.5 * {score})))::INTEGER"
    outcome = f"""CASE
      WHEN u0 < 0.01 THEN 'A'
      WHEN ks = 3 THEN 'L' || least(8, greatest(1, round(5.6 + 1.2 * {score})))::INTEGER
      WHEN subject = 'SCI' THEN CASE WHEN {score} > -1.0 THEN 'EXS' ELSE 'HNM' END
      WHEN ks = 2 AND subject <> 'WRIT' THEN
        CASE WHEN {scaled} >= 100 THEN 'AS' ELSE 'NS' END
      WHEN {score} > 1.0 THEN 'GDS' WHEN {score} > -0.7 THEN 'EXS'
      WHEN {score} > -1.7 OR ks = 2 THEN 'WTS' ELSE 'HNM' END"""
    cols = _project(
        "ks_results",
        {
            "academic_year": "year",
            "assessment_date": "make_date(year + 1, CASE ks WHEN 2 THEN 7 ELSE 6 END, "
            "CASE ks WHEN 2 THEN 8 ELSE 30 END)",
            "laestab": "laestab",
            "upn": "CASE WHEN f0 < 0.03 THEN NULL ELSE upn END",
            "surname": "surname",
            "forename": f"CASE WHEN f1 < 0.01 THEN {ks_typo} ELSE forename END",
            "date_of_birth": "date_of_birth",
            "sex": "sex",
            "key_stage": "ks",
            "subject": "subject",
            "outcome": outcome,
            "scaled_score": f"CASE WHEN ks = 2 AND subject IN ('READ', 'MATH', 'GPS') "
            f"AND u0 >= 0.01 THEN {scaled} END",
        },
    )
    con.execute(f"""
    CREATE OR REPLACE VIEW src_ks_results AS
    SELECT 'ks_results/ks' || ks || '_' || year || '_' || la_code || '.csv' AS file,
           person_id, name_rank, 0 AS dup, {cols}
    FROM ks_base""")


def ncmp_src(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, spec: Spec, n_schools: int
) -> None:
    """Reception and Year 6 heights and weights from UK90 SDS draws; few UPNs."""
    k = n_schools * spec.years
    con.register(
        "measure_days",
        pa.table(
            {
                "school": np.repeat(np.arange(n_schools), spec.years),
                "year": np.tile(spec.first_year + np.arange(spec.years), n_schools),
                "offset": rng.integers(0, 200, size=k).astype(np.int32),
            }
        ),
    )
    con.execute(f"""
    CREATE OR REPLACE TABLE ncmp_base AS
    SELECT {ROW_COLS}, make_date(c.year, 11, 1) + d."offset" AS measured
    FROM cen c JOIN measure_days d ON d.school = c.school AND d.year = c.year
    WHERE c.term = 'spring' AND c.ncy IN (0, 6) AND c.f2 < 0.94
    ORDER BY c.person_id, c.t""")
    add_randoms(con, "ncmp_base", rng, normals=2)
    hz = (
        "greatest(-3.5, least(3.5, CASE WHEN b.ncy = 0 THEN b.h_sds "
        "ELSE 0.8 * b.h_sds + 0.6 * b.z0 END))"
    )
    bz = (
        "greatest(-3.5, least(3.5, CASE WHEN b.ncy = 0 THEN 0.25 ELSE 0.45 END "
        "+ 1.05 * (0.7 * b.b_sds + 0.714 * b.z1)))"
    )
    height = growth.value_from_z_sql(hz, "h.l", "h.m", "h.s")
    bmi = growth.value_from_z_sql(bz, "g.l", "g.m", "g.s")
    con.execute(f"""
    CREATE OR REPLACE TABLE ncmp_sized AS
    SELECT b.*, {height} AS height, {bmi} AS bmi_value FROM ncmp_base b
    JOIN growth_lms_arrow h ON h.sex = b.sex AND h.measurement = 'height'
      AND h.age_days = b.measured - b.true_dob
    JOIN growth_lms_arrow g ON g.sex = b.sex AND g.measurement = 'bmi'
      AND g.age_days = b.measured - b.true_dob
    ORDER BY b.person_id, b.t""")
    name = faults.nickname_or_typo_sql("forename", "nk.nick", "k + 3")
    cols = _project(
        "ncmp",
        {
            "measurement_date": "measured",
            "laestab": "laestab",
            "school_year": "CASE WHEN ncy = 0 THEN 'R' ELSE '6' END",
            "upn": "CASE WHEN f3 < 0.1 THEN upn END",
            "surname": "surname",
            "forename": f"CASE WHEN f4 < 0.05 THEN {name} ELSE forename END",
            "date_of_birth": f"CASE WHEN swappable AND f5 < 0.03 THEN "
            f"{faults.swapped_sql('date_of_birth')} ELSE date_of_birth END",
            "sex": "sex",
            "postcode": "postcode",
            "height_cm": "printf('%.1f', height)",
            "weight_kg": "printf('%.1f', bmi_value * (height / 100) * (height / 100))",
        },
    )
    con.execute(f"""
    CREATE OR REPLACE VIEW src_ncmp AS
    SELECT 'ncmp/ncmp_' || year || '_' || la_code || '.csv' AS file, person_id,
           name_rank, 0 AS dup, {cols}
    FROM ncmp_sized LEFT JOIN nick nk ON nk.formal = forename""")


def qualifications_src(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    """GCSEs at the end of Year 11 and A levels at the end of Year 13."""
    gcse = names.GCSE_SUBJECTS
    con.register(
        "gcse_subjects",
        pa.table({"subject": [s for s, _ in gcse], "p": [p for _, p in gcse]}),
    )
    con.register("alevel_subjects", pa.table({"subject": list(names.ALEVEL_SUBJECTS)}))
    con.register(
        "bodies",
        pa.table(
            {
                "i": np.arange(len(names.AWARDING_BODIES)),
                "body": list(names.AWARDING_BODIES),
            }
        ),
    )
    con.execute(f"""
    CREATE OR REPLACE TABLE qual_base AS
    SELECT {ROW_COLS}, 'GCSE' AS qual_type, g.subject, g.p
    FROM cen c CROSS JOIN gcse_subjects g
    WHERE c.term = 'summer' AND c.ncy = 11
    UNION ALL
    SELECT {ROW_COLS}, 'ALEVEL', a.subject, 0.2 FROM cen c CROSS JOIN alevel_subjects a
    WHERE c.term = 'summer' AND c.ncy = 13
    ORDER BY person_id, qual_type, subject""")
    add_randoms(con, "qual_base", rng, uniforms=1, normals=1)
    score = "(0.85 * ability + 0.5 * z0)"
    grade = f"""CASE WHEN qual_type = 'GCSE' THEN
        CASE WHEN {score} < -2.4 THEN 'U'
             ELSE least(9, greatest(1, round(4.7 + 1.8 * {score})))::INTEGER::VARCHAR
        END
      WHEN {score} > 1.6 THEN 'A*' WHEN {score} > 0.9 THEN 'A'
      WHEN {score} > 0.2 THEN 'B'
      WHEN {score} > -0.5 THEN 'C' WHEN {score} > -1.2 THEN 'D' WHEN {score} > -1.9
      THEN 'E' ELSE 'U' END"""
    name = faults.nickname_or_typo_sql("forename", "nk.nick", "k + 5")
    cols = _project(
        "qualifications",
        {
            "awarding_body": "bo.body",
            "award_date": "ad.award_date",
            "uln": "CASE WHEN f6 < 0.95 THEN person_uln END",
            "surname": "surname",
            "forename": f"CASE WHEN f7 < 0.04 THEN {name} ELSE forename END",
            "date_of_birth": f"CASE WHEN swappable AND f5 > 0.97 THEN "
            f"{faults.swapped_sql('date_of_birth')} ELSE date_of_birth END",
            "sex": "sex",
            "postcode": "postcode",
            "qual_type": "q.qual_type",
            "subject": "q.subject",
            "grade": grade,
        },
    )
    con.execute(f"""
    CREATE OR REPLACE VIEW src_qualifications AS
    WITH q AS (
      SELECT * FROM qual_base WHERE qual_type = 'GCSE' AND u0 < p
      UNION ALL
      SELECT * FROM qual_base WHERE qual_type = 'ALEVEL'
      QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY u0) <= 3
    )
    SELECT 'qualifications/' || lower(replace(bo.body, ' ', '_')) || '_'
             || (q.year + 1) || '.csv' AS file, person_id, name_rank, 0 AS dup,
           {cols}
    FROM q
    JOIN bodies bo ON bo.i = (hash(q.subject) + q.school) % 4
    JOIN award_days ad ON ad.ad_year = q.year AND ad.ad_type = q.qual_type
    LEFT JOIN nick nk ON nk.formal = q.forename""")


def survey_src(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, spec: Spec
) -> None:
    """Parents' contact details for a sample of pupils, once each."""
    con.execute(f"""
    CREATE OR REPLACE TABLE survey_base AS
    SELECT {ROW_COLS} FROM cen c
    WHERE c.term = 'spring' AND c.f8 < 0.05
      AND c.year = {spec.first_year} + CAST(floor(c.f8 / 0.05 * {spec.years}) AS INT)
    ORDER BY c.person_id""")
    add_randoms(con, "survey_base", rng, uniforms=8)
    nick = faults.nickname_or_typo_sql("b.forename", "nk.nick", "b.k + 11")
    clean = "regexp_replace(lower(strip_accents({})), '[^a-z]', '', 'g')"
    psur = "CASE WHEN b.u5 < 0.2 THEN sl.name ELSE b.surname END"
    pclean = clean.format("an.name")
    cols = _project(
        "survey_contacts",
        {
            "collected_date": "make_date(b.year + 1, 3, 1)",
            "upn": "CASE WHEN b.u0 < 0.7 THEN b.upn END",
            "surname": "b.surname",
            "forename": "CASE WHEN b.u1 < 0.08 AND nk.nick IS NOT NULL THEN nk.nick "
            f"WHEN b.u1 < 0.11 THEN {nick} ELSE b.forename END",
            "date_of_birth": "CASE WHEN b.swappable AND b.f5 BETWEEN 0.5 AND 0.53 "
            "THEN "
            f"{faults.swapped_sql('b.date_of_birth')} "
            "ELSE b.date_of_birth END",
            "sex": "b.sex",
            "postcode": "b.postcode",
            "parent_name": f"an.name || ' ' || {psur}",
            "address_line": "b.house || ' ' || st.name",
            "parent_email": f"CASE WHEN b.u3 < 0.8 THEN {pclean} || '.' "
            f"|| {clean.format(psur)} || (b.k % 90 + 10) || '@example.' || "
            "CASE WHEN b.u6 < 0.5 THEN 'com' WHEN b.u6 < 0.8 THEN 'org' "
            "ELSE 'net' END END",
            "parent_phone": "CASE WHEN b.u4 < 0.75 THEN '07700 900' || "
            "lpad(CAST((b.k // 7) % 1000 AS VARCHAR), 3, '0') END",
            "contact_consent": "CASE WHEN b.u2 < 0.7 THEN 'Y' ELSE 'N' END",
        },
    )
    con.execute(f"""
    CREATE OR REPLACE VIEW src_survey_contacts AS
    SELECT 'survey_contacts/survey_' || b.year || '.csv' AS file, b.person_id,
           b.name_rank, 0 AS dup, {cols}
    FROM survey_base b
    JOIN adult_names an ON an.i = CAST(floor(b.u7 * (SELECT count(*) FROM adult_names))
                                       AS INT)
    JOIN surname_list sl
      ON sl.i = CAST(floor(b.u6 * (SELECT count(*) FROM surname_list))
                                        AS INT)
    JOIN streets st ON st.i = b.pc_idx % (SELECT count(*) FROM streets)
    LEFT JOIN nick nk ON nk.formal = b.forename""")


def dedupe(con: duckdb.DuckDBPyConnection, ds: str, order: str) -> None:
    """Drop rows that would repeat the dataset's unique key within a file (two
    different pupils who happen to share it), so only deliberate duplicates make a
    file faulty. Rows with a key item missing are kept: a missing UPN is no clash.
    Only datasets keyed on names need this; UPN and ULN keys are unique by design."""
    key = catalogue.dataset(ds).unique_key
    keep = " OR ".join(f"{k} IS NULL" for k in key)
    con.execute(f"""
    CREATE OR REPLACE TABLE dd_{ds} AS SELECT * FROM src_{ds}
    QUALIFY {keep} OR row_number() OVER (PARTITION BY file, {", ".join(key)}
                                         ORDER BY {order}, person_id) = 1""")
    con.execute(f"DROP VIEW src_{ds}")
    con.execute(f"ALTER TABLE dd_{ds} RENAME TO src_{ds}")


def number(con: duckdb.DuckDBPyConnection, ds: str, group: str, order: str,
           dups: bool) -> None:  # fmt: skip
    """``out_<ds>``: one row per file line (line 2 is the first data row), stored
    file by file in line order. ``group`` identifies the file (integers are cheaper
    to sort than the file name)."""
    rows = (
        f"(SELECT * FROM src_{ds} UNION ALL SELECT * FROM dup_{ds})"
        if dups
        else f"src_{ds}"
    )
    con.execute(f"""
    CREATE OR REPLACE TABLE out_{ds} AS
    SELECT * EXCLUDE (dup),
      row_number() OVER (PARTITION BY {group} ORDER BY {order}, person_id, dup) + 1
        AS line
    FROM {rows}
    ORDER BY {group}, line""")
