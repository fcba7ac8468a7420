"""Writing the pupil index: new pupils, their identifiers and the record links.

Everything here is SQL over the temp tables of a run (``match_new``,
``match_profiles``) and runs inside the run's transaction. Every ``arg_max`` breaks
ties on the value itself, ``arg_max(v, (n, v))``: the index must not depend on the
order rows arrive in (Splink's answers come back in another order on Spark).
"""

from __future__ import annotations

from pupilshare.store import Store


def create_pupils_sql(run: int) -> str:
    """A pupils row for every key given to a profile that the index does not hold yet:
    the names, birth date and sex of its most frequent profile, its newest postcode."""
    return f"""
    INSERT INTO pupils
    SELECT pupil_key, arg_max(upn, (event_date, upn)) FILTER (WHERE upn_ok),
        arg_max(uln, (records, uln)) FILTER (WHERE uln_ok),
        arg_max(forename, (records, forename)) FILTER (WHERE forename IS NOT NULL),
        arg_max(surname, (records, surname)) FILTER (WHERE surname IS NOT NULL),
        arg_max(date_of_birth, (records, date_of_birth))
            FILTER (WHERE date_of_birth IS NOT NULL),
        arg_max(sex, (records, sex)) FILTER (WHERE sex IS NOT NULL),
        arg_max(postcode, (event_date, postcode))
            FILTER (WHERE postcode IS NOT NULL), {run}
    FROM match_profiles
    WHERE pupil_key IS NOT NULL
      AND pupil_key NOT IN (SELECT pupil_key FROM pupils)
    GROUP BY pupil_key
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
    """Each pupil touched by the run shows its most common names in its history (a
    typo in one record never wins) and its newest postcode."""
    return """
    UPDATE pupils SET forename = coalesce(n.forename, pupils.forename),
        surname = coalesce(n.surname, pupils.surname),
        postcode = coalesce(n.postcode, pupils.postcode)
    FROM (
        SELECT pupil_key,
            arg_max(forename, (records, forename)) FILTER (WHERE forename IS NOT NULL)
                AS forename,
            arg_max(surname, (records, surname))
                FILTER (WHERE surname IS NOT NULL) AS surname,
            arg_max(postcode, (last_seen, postcode)) FILTER (WHERE postcode IS NOT NULL)
                AS postcode
        FROM (SELECT pupil_key, forename, surname, postcode,
                  sum(records) AS records, max(last_seen) AS last_seen
              FROM pupil_history
              WHERE pupil_key IN (SELECT pupil_key FROM match_profiles)
              GROUP BY ALL)
        GROUP BY pupil_key
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
    """The person fields each pupil's new records carried, with when they were seen.
    UPNs are kept when well formed, temporary ones too: a later record may name a
    temporary UPN as its former UPN, and only the history remembers it."""
    return f"""
    INSERT INTO pupil_history
    SELECT pupil_key, CASE WHEN upn_wf THEN upn END AS upn,
        CASE WHEN former_wf THEN former_upn END AS former_upn, forename, surname,
        former_surname, date_of_birth, sex, postcode, min(event_date),
        max(event_date), sum(records), {run}
    FROM match_profiles WHERE pupil_key IS NOT NULL
    GROUP BY ALL
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
