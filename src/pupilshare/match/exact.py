"""The exact passes: a valid permanent UPN, former UPN or ULN that agrees with the
date of birth (exactly, or with day and month swapped) links a profile for certain.

Each pass is one SQL statement over the temp table ``match_profiles``. Profiles that
share an identifier the index has never seen form a group (``match_groups``), which
the probabilistic pass keeps together.
"""

from __future__ import annotations

from pupilshare.store import Store


def dob_agrees_sql(a: str, b: str) -> str:
    """Dates agree when equal or when one is the other with day and month swapped."""
    # CASE, not AND: DuckDB may evaluate both sides of an AND, and make_date fails
    # on a day above 12 taken as a month
    return (
        f"({a} = {b} OR CASE WHEN day({a}) <= 12 THEN "
        f"make_date(year({a}), day({a}), month({a})) = {b} ELSE false END)"
    )


# (profile column, its validity flag, identifier kinds it may equal, method name)
PASSES = {
    "upn": ("upn", "upn_ok", ("upn", "former_upn"), "exact_upn"),
    "former_upn": ("former_upn", "former_ok", ("upn",), "exact_former_upn"),
    "uln": ("uln", "uln_ok", ("uln",), "exact_uln"),
}


# A ULN is keyed by hand on qualification entries and, for a pupil, may have been
# attached by an earlier probabilistic join: alone with a birth date it is weaker
# evidence than a UPN. So a ULN links a record for certain only when nothing in the
# record contradicts it: no valid permanent UPN the pupil has never held while it
# holds another, and a forename or surname like the pupil's (both names different
# and a birth date that happens to agree is how a mistyped or misattached ULN
# looks). A school's temporary UPN is an identity too: a record under one that the
# pupil's records never carried, while they carried others, contradicts the ULN.
# Such a record is left to the UPN passes and Splink.
_NAMED = """pupil_key IN (SELECT i.pupil_key FROM pupil_identifiers i
    JOIN match_profiles n ON i.kind = 'uln' AND i.value = n.uln
    WHERE n.uln_ok AND n.pupil_key IS NULL)"""
ULN_GUARD = f"""
    LEFT JOIN (SELECT pupil_key, list(value) AS upns FROM pupil_identifiers
               WHERE kind IN ('upn', 'former_upn') AND {_NAMED}
               GROUP BY pupil_key) u ON u.pupil_key = p.pupil_key
    LEFT JOIN (SELECT pupil_key, list(DISTINCT forename) AS fore,
                   list(DISTINCT surname) || list(DISTINCT former_surname) AS sur,
                   list(DISTINCT upn) FILTER (WHERE upn IS NOT NULL)
                   || list(DISTINCT former_upn) FILTER (WHERE former_upn IS NOT NULL)
                   AS seen
               FROM pupil_history WHERE {_NAMED}
               GROUP BY pupil_key) h ON h.pupil_key = p.pupil_key
"""
ULN_AGREES = """
          AND NOT (m.upn_ok AND u.upns IS NOT NULL AND NOT list_contains(u.upns, m.upn))
          AND NOT (m.upn_wf AND NOT m.upn_ok
                   AND len(coalesce(h.seen, []) || coalesce(u.upns, [])) > 0
                   AND NOT list_contains(coalesce(h.seen, []) || coalesce(u.upns, []),
                                         m.upn))
          AND (m.forename IS NULL OR m.surname IS NULL OR h.pupil_key IS NULL
               OR list_has_any(h.fore, [m.forename]) OR list_has_any(h.sur, [m.surname])
               OR jaro_winkler_similarity(m.forename, p.forename) >= 0.88
               OR jaro_winkler_similarity(m.surname, p.surname) >= 0.88)
"""


def match_index_sql(pass_name: str) -> str:
    """Link unlinked profiles whose identifier names exactly one agreeing pupil."""
    col, ok, kinds, method = PASSES[pass_name]
    kind_list = ", ".join(f"'{k}'" for k in kinds)
    guard, agrees = (ULN_GUARD, ULN_AGREES) if pass_name == "uln" else ("", "")
    return f"""
    UPDATE match_profiles AS m
    SET pupil_key = x.pupil_key, method = '{method}', match_probability = 1.0
    FROM (
        SELECT m.profile_id, min(p.pupil_key) AS pupil_key
        FROM match_profiles m
        JOIN pupil_identifiers i ON i.kind IN ({kind_list}) AND i.value = m.{col}
        JOIN pupils p ON p.pupil_key = i.pupil_key
        {guard}
        WHERE m.pupil_key IS NULL AND m.{ok}
          AND {dob_agrees_sql("m.date_of_birth", "p.date_of_birth")}
          {agrees}
        GROUP BY m.profile_id
        HAVING count(DISTINCT p.pupil_key) = 1
    ) AS x
    WHERE m.profile_id = x.profile_id
    """


def temporary_upn_sql() -> str:
    """Link unlinked profiles known only by a school's temporary UPN to the one pupil
    that a profile linked in this run names it for, as its former UPN (with the
    date of birth agreeing): the pupil's records from before and after the
    permanent UPN stay together, as Splink alone over the same records would keep
    them."""
    return f"""
    UPDATE match_profiles AS m
    SET pupil_key = x.pupil_key, method = 'exact_former_upn', match_probability = 1.0
    FROM (
        SELECT m.profile_id, min(o.pupil_key) AS pupil_key
        FROM match_profiles m
        JOIN match_profiles o ON o.former_upn = m.upn
        WHERE m.pupil_key IS NULL AND m.upn_wf AND NOT m.upn_ok
          AND o.pupil_key IS NOT NULL AND o.former_wf
          AND {dob_agrees_sql("m.date_of_birth", "o.date_of_birth")}
        GROUP BY m.profile_id
        HAVING count(DISTINCT o.pupil_key) = 1
    ) AS x
    WHERE m.profile_id = x.profile_id
    """


def groups_sql(pass_name: str) -> str:
    """Unlinked profiles sharing an identifier the index has not seen, as
    (profile_id, grp): the profiles that agree with the identifier's most common date
    of birth. A group is one person; whether that person is already in the index
    under other details is for the probabilistic pass to say."""
    col, ok, kinds, _ = PASSES[pass_name]
    kind_list = ", ".join(f"'{k}'" for k in kinds)
    return f"""
    SELECT m.profile_id, '{pass_name}:' || m.{col} AS grp
    FROM match_profiles m JOIN (
        SELECT {col} AS ident, arg_max(date_of_birth, (n, date_of_birth)) AS dob FROM (
            SELECT {col}, date_of_birth, sum(records) AS n FROM match_profiles
            WHERE pupil_key IS NULL AND {ok} AND date_of_birth IS NOT NULL
              AND {col} NOT IN (SELECT value FROM pupil_identifiers
                                WHERE kind IN ({kind_list}))
            GROUP BY ALL
        ) GROUP BY {col}
    ) AS g ON m.{col} = g.ident
    WHERE m.pupil_key IS NULL AND m.{ok}
      AND {dob_agrees_sql("m.date_of_birth", "g.dob")}
    """


def temporary_groups_sql() -> str:
    """Unlinked profiles under a school's temporary UPN that the index has not seen,
    as (profile_id, grp), one identity within the run as a permanent UPN is: the
    profiles agreeing with the UPN's most common birth date. A temporary UPN that
    one permanent UPN of this run names as its former UPN (birth dates agreeing)
    joins that UPN's group, ``upn:`` and the permanent UPN; any other is a group of
    its own, ``upn:`` and the temporary UPN (it ends in a letter, so never equals a
    permanent one). Two such identities in one group of alike records are then two
    people, split as two permanent UPNs are (``probabilistic.SPLIT_CONFLICTS_SQL``)."""
    return f"""
    WITH t AS (
        SELECT upn AS ident, arg_max(date_of_birth, (n, date_of_birth)) AS dob FROM (
            SELECT upn, date_of_birth, sum(records) AS n FROM match_profiles
            WHERE pupil_key IS NULL AND upn_wf AND NOT upn_ok
              AND date_of_birth IS NOT NULL
              AND upn NOT IN (SELECT upn FROM pupil_history WHERE upn IS NOT NULL)
            GROUP BY ALL
        ) GROUP BY upn
    ), named AS (
        SELECT former_upn AS ident, min(upn) AS upn,
            arg_max(date_of_birth, (records, date_of_birth)) AS dob
        FROM match_profiles
        WHERE pupil_key IS NULL AND upn_ok AND former_wf AND NOT former_ok
        GROUP BY former_upn HAVING count(DISTINCT upn) = 1
    )
    SELECT m.profile_id, 'upn:' || coalesce(n.upn, m.upn) AS grp
    FROM match_profiles m JOIN t ON m.upn = t.ident
    LEFT JOIN named n ON n.ident = t.ident
        AND {dob_agrees_sql("t.dob", "n.dob")}
        AND 'upn:' || n.upn IN (SELECT grp FROM match_groups)
    WHERE m.pupil_key IS NULL AND m.upn_wf AND NOT m.upn_ok
      AND {dob_agrees_sql("m.date_of_birth", "t.dob")}
    """


def next_key(store: Store) -> int:
    return int(store.one("SELECT coalesce(max(pupil_key), 0) + 1 FROM pupils"))
