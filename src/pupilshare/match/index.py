"""Writing the pupil index: new pupils, their identifiers and the record links.

Everything here is SQL over the temp tables of a run (``match_new``,
``match_profiles``) and runs inside the run's transaction.
"""

from __future__ import annotations

from pupilshare.store import Store


def create_pupils_sql(run: int) -> str:
    """A pupils row for every key given to a profile that the index does not hold yet,
    from the group's most recent profile (a valid UPN preferred)."""
    return f"""
    INSERT INTO pupils
    SELECT pupil_key, CASE WHEN upn_ok THEN upn END, CASE WHEN uln_ok THEN uln END,
        forename, surname, date_of_birth, sex, postcode, {run}
    FROM match_profiles
    WHERE pupil_key IS NOT NULL
      AND pupil_key NOT IN (SELECT pupil_key FROM pupils)
    QUALIFY row_number() OVER (PARTITION BY pupil_key
        ORDER BY upn_ok DESC, event_date DESC NULLS LAST, records DESC, profile_id) = 1
    """


def add_identifiers_sql() -> str:
    """Record each linked profile's valid UPN, former UPN and ULN on its pupil.

    A ULN belongs to one pupil and a pupil has one ULN: a ULN already held (by anyone),
    or a second ULN for a pupil that has one, is not added.
    """
    return """
    INSERT INTO pupil_identifiers
    SELECT DISTINCT pupil_key, kind, value FROM (
        SELECT pupil_key, 'upn' AS kind, upn AS value FROM match_profiles
            WHERE pupil_key IS NOT NULL AND upn_ok
        UNION ALL
        SELECT pupil_key, 'former_upn', former_upn FROM match_profiles
            WHERE pupil_key IS NOT NULL AND former_ok
    ) AS c
    ANTI JOIN pupil_identifiers i USING (pupil_key, kind, value);
    INSERT INTO pupil_identifiers
    SELECT pupil_key, 'uln', uln FROM (
        SELECT pupil_key, min(uln) AS uln FROM match_profiles
        WHERE pupil_key IS NOT NULL AND uln_ok GROUP BY pupil_key
    ) AS c
    WHERE pupil_key NOT IN (SELECT pupil_key FROM pupil_identifiers WHERE kind = 'uln')
      AND uln NOT IN (SELECT value FROM pupil_identifiers WHERE kind = 'uln')
    QUALIFY row_number() OVER (PARTITION BY uln ORDER BY pupil_key) = 1;
    UPDATE pupils SET uln = i.value FROM pupil_identifiers i
    WHERE i.pupil_key = pupils.pupil_key AND i.kind = 'uln' AND pupils.uln IS NULL;
    UPDATE pupils SET upn = i.value FROM (
        SELECT pupil_key, min(value) AS value FROM pupil_identifiers
        WHERE kind = 'upn' GROUP BY pupil_key) AS i
    WHERE i.pupil_key = pupils.pupil_key AND pupils.upn IS NULL;
    """


def refresh_pupils_sql() -> str:
    """Bring each pupil's name and postcode up to its newest exactly matched record
    (a probabilistic match may carry a typo, so it never overwrites)."""
    return """
    UPDATE pupils SET forename = n.forename, surname = n.surname,
        postcode = coalesce(n.postcode, pupils.postcode)
    FROM (
        SELECT pupil_key, forename, surname, postcode FROM match_profiles
        WHERE pupil_key IS NOT NULL AND event_date IS NOT NULL
          AND method LIKE 'exact%' AND forename IS NOT NULL AND surname IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY pupil_key
            ORDER BY event_date DESC, records DESC, profile_id) = 1
    ) AS n
    WHERE n.pupil_key = pupils.pupil_key
    """


def links_sql(run: int) -> str:
    """Every usable new record to its profile's pupil."""
    return f"""
    INSERT INTO pupil_links
    SELECT n.dataset, n.collection_id, n.line, p.pupil_key, p.method,
        p.match_probability, {run}
    FROM match_new n JOIN match_profiles p USING (profile_id)
    WHERE n.usable
    """


def history_sql(run: int) -> str:
    """The person fields each pupil's new records carried, with when they were seen."""
    return f"""
    INSERT INTO pupil_history
    SELECT pupil_key, forename, surname, date_of_birth, sex, postcode,
        min(event_date), max(event_date), sum(records), {run}
    FROM match_profiles WHERE pupil_key IS NOT NULL
    GROUP BY pupil_key, forename, surname, date_of_birth, sex, postcode
    """


def unusable_sql(run: int, reason: str) -> str:
    return f"""
    INSERT INTO match_unusable
    SELECT dataset, collection_id, line, '{reason}', {run}
    FROM match_new WHERE NOT usable
    """


def apply(store: Store, run: int) -> None:
    """Create new pupils and add identifiers for what the passes decided so far."""
    store.execute(create_pupils_sql(run))
    store.execute(add_identifiers_sql())
