"""The records a match run works on: every not-yet-linked record, normalised.

Person fields are named the same in every pupil dataset (``catalogue.PERSON_FIELDS``),
so one ``UNION ALL`` over the ``ds_`` tables gives them all, with NULL where a dataset
lacks a field. Records with identical person fields share a *profile*: matching works
on profiles (a pupil's key stage subjects are one profile, not six) and links every
record of a profile the same way.
"""

from __future__ import annotations

from pupilshare import catalogue
from pupilshare.identifiers import (
    TEMPORARY_ULN,
    permanent_upn_sql,
    uln_problem_sql,
    upn_problem_sql,
)
from pupilshare.store import Store

# Placeholder names that identify nobody (after normalising to letters).
PLACEHOLDER_NAMES = ("UNKNOWN", "NOTKNOWN", "BABY", "NONE", "NA", "XX", "X", "TEST")

NAME_FIELDS = ("forename", "surname", "former_surname")


def _name_sql(col: str) -> str:
    """Upper-case letters, spaces, hyphens and apostrophes only; NULL when empty."""
    clean = f"trim(regexp_replace(upper(strip_accents({col})), '[^A-Z'' -]', '', 'g'))"
    return f"nullif({clean}, '')"


def postcode_sql(col: str) -> str:
    """Outward and inward codes with one space, as Splink's postcode levels expect."""
    pc = f"nullif(upper(replace({col}, ' ', '')), '')"
    return f"regexp_replace({pc}, '^(.+)(.{{3}})$', '\\1 \\2')"


def _field_sql(ds: catalogue.Dataset, field: str) -> str:
    if field not in ds:
        return f"NULL::{'DATE' if field == 'date_of_birth' else 'VARCHAR'} AS {field}"
    if field in NAME_FIELDS:
        return f"{_name_sql(field)} AS {field}"
    if field == "postcode":
        return f"{postcode_sql('postcode')} AS postcode"
    if field in ("upn", "former_upn", "uln"):
        return f"nullif(upper(trim({field})), '') AS {field}"
    if field == "sex":
        return "upper(sex) AS sex"
    return field


def union_sql(store: Store) -> str:
    """Every record of every collected pupil dataset, person fields normalised."""
    parts = []
    for ds in catalogue.pupil_datasets():
        if not store.exists(ds.table):
            continue
        fields = ", ".join(_field_sql(ds, f) for f in catalogue.PERSON_FIELDS)
        event = ds.event_date or "NULL::DATE"
        parts.append(
            f"SELECT '{ds.name}' AS dataset, collection_id, line, "
            f"{event}::DATE AS event_date, {fields} FROM {ds.table}"
        )
    if not parts:
        cols = ", ".join(
            f"NULL::{'DATE' if f == 'date_of_birth' else 'VARCHAR'} AS {f}"
            for f in catalogue.PERSON_FIELDS
        )
        return (
            "SELECT NULL::VARCHAR AS dataset, NULL::BIGINT AS collection_id, "
            f"NULL::BIGINT AS line, NULL::DATE AS event_date, {cols} WHERE false"
        )
    return " UNION ALL BY NAME ".join(parts)


def new_records_sql(union: str) -> str:
    """Records not yet in ``pupil_links`` or reported unusable, with validity flags and
    a profile id (a hash of the person fields)."""
    fields = ", ".join(catalogue.PERSON_FIELDS)
    placeholders = ", ".join(f"'{n}'" for n in PLACEHOLDER_NAMES)
    return f"""
    WITH r AS ({union}),
    fresh AS (
        SELECT r.* FROM r
        ANTI JOIN pupil_links l USING (dataset, collection_id, line)
        ANTI JOIN match_unusable u USING (dataset, collection_id, line)
    ),
    formed AS (
        -- well formed: a permanent UPN or a temporary one (check letter valid, a
        -- letter last); only permanent ones are exact identifiers, but a temporary
        -- one still tells Splink that two records share a school's number
        SELECT *,
            upn IS NOT NULL AND ({upn_problem_sql("upn")}) IS NULL AS upn_wf,
            former_upn IS NOT NULL AND ({upn_problem_sql("former_upn")}) IS NULL
                AS former_wf
        FROM fresh
    ),
    flagged AS (
        SELECT *,
            upn_wf AND {permanent_upn_sql("upn")} AS upn_ok,
            former_wf AND {permanent_upn_sql("former_upn")} AS former_ok,
            uln IS NOT NULL AND uln <> '{TEMPORARY_ULN}'
                AND ({uln_problem_sql("uln")}) IS NULL AS uln_ok,
            forename IS NOT NULL AND replace(forename, ' ', '') NOT IN ({placeholders})
                AS fore_ok,
            surname IS NOT NULL AND replace(surname, ' ', '') NOT IN ({placeholders})
                AS sur_ok
        FROM formed
    )
    SELECT *, hash({fields}) AS profile_id,
        (upn_ok OR uln_ok OR (date_of_birth IS NOT NULL AND fore_ok AND sur_ok))
            AS usable
    FROM flagged
    """


def profiles_sql() -> str:
    """One row per distinct usable person-field tuple among the new records."""
    fields = ", ".join(catalogue.PERSON_FIELDS)
    return f"""
    SELECT profile_id, {fields},
        bool_or(upn_ok) AS upn_ok, bool_or(former_ok) AS former_ok,
        bool_or(upn_wf) AS upn_wf, bool_or(former_wf) AS former_wf,
        bool_or(uln_ok) AS uln_ok, count(*) AS records, max(event_date) AS event_date
    FROM match_new WHERE usable
    GROUP BY profile_id, {fields}
    """


UNUSABLE_REASON = (
    "no valid permanent UPN or ULN, and the date of birth, forename or surname is "
    "missing or a placeholder"
)


def stage(store: Store) -> tuple[int, int]:
    """Create temp tables ``match_new`` and ``match_profiles``; (records, profiles)."""
    store.execute(
        f"CREATE OR REPLACE TEMP TABLE match_new AS {new_records_sql(union_sql(store))}"
    )
    store.execute(f"CREATE OR REPLACE TEMP TABLE match_profiles AS {profiles_sql()}")
    store.execute("ALTER TABLE match_profiles ADD COLUMN pupil_key BIGINT")
    store.execute("ALTER TABLE match_profiles ADD COLUMN method VARCHAR")
    store.execute("ALTER TABLE match_profiles ADD COLUMN match_probability DOUBLE")
    return (
        store.one("SELECT count(*) FROM match_new"),
        store.one("SELECT count(*) FROM match_profiles"),
    )


def splink_input_sql(source: str) -> str:
    """Shape rows with person fields (and a ``unique_id``) into Splink input."""
    return (
        f"SELECT unique_id, forename, surname, former_surname, date_of_birth, "
        f"strftime(date_of_birth, '%Y-%m-%d') AS dob_s, sex, postcode, upn, "
        f"former_upn FROM {source}"
    )
