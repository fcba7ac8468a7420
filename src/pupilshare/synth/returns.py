"""Key stage results, NCMP measurements, qualifications and survey contacts.

Each is built from the census row of the right term (and its person), then adds its
own slips on top: missing UPNs, typos, nicknames, swapped days and months.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from pupilshare import growth
from pupilshare.synth import faults, names
from pupilshare.synth.people import Spec
from pupilshare.synth.tables import add_randoms, project

# What the other datasets take from a census row (c) and its person (p): ``cen``
# itself stays narrow, since it holds every pupil in every term.
ROW_COLS = ", ".join(
    [
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
            "name_rank",
        )
    ]
    + [
        f"p.{c}"
        for c in (
            "ability",
            "k",
            "house",
            "h_sds",
            "b_sds",
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
    ]
    + ["p.uln AS person_uln"]
)
WITH_PERSON = "cen c JOIN people p ON p.person_id = c.person_id"


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
    SELECT {ROW_COLS}, s.ks, s.subject FROM {WITH_PERSON}
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
    cols = project(
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
    FROM {WITH_PERSON} JOIN measure_days d ON d.school = c.school AND d.year = c.year
    WHERE c.term = 'spring' AND c.ncy IN (0, 6) AND p.f2 < 0.94
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
      AND g.age_days = b.measured - b.true_dob""")
    name = faults.nickname_or_typo_sql("forename", "nk.nick", "k + 3")
    cols = project(
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
    FROM {WITH_PERSON} CROSS JOIN gcse_subjects g
    WHERE c.term = 'summer' AND c.ncy = 11
    UNION ALL
    SELECT {ROW_COLS}, 'ALEVEL', a.subject, 0.2
    FROM {WITH_PERSON} CROSS JOIN alevel_subjects a
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
    cols = project(
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
    n_bodies = len(names.AWARDING_BODIES)
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
    JOIN bodies bo ON bo.i = (hash(q.subject) + q.school) % {n_bodies}
    JOIN award_days ad ON ad.ad_year = q.year AND ad.ad_type = q.qual_type
    LEFT JOIN nick nk ON nk.formal = q.forename""")


def survey_src(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, spec: Spec
) -> None:
    """Parents' contact details for a sample of pupils, once each."""
    con.execute(f"""
    CREATE OR REPLACE TABLE survey_base AS
    SELECT {ROW_COLS} FROM {WITH_PERSON}
    WHERE c.term = 'spring' AND p.f8 < 0.05
      AND c.year = {spec.first_year} + CAST(floor(p.f8 / 0.05 * {spec.years}) AS INT)
    ORDER BY c.person_id""")
    add_randoms(con, "survey_base", rng, uniforms=8)
    nick = faults.nickname_or_typo_sql("b.forename", "nk.nick", "b.k + 11")
    clean = "regexp_replace(lower(strip_accents({})), '[^a-z]', '', 'g')"
    psur = "CASE WHEN b.u5 < 0.2 THEN sl.name ELSE b.surname END"
    pclean = clean.format("an.name")
    cols = project(
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
