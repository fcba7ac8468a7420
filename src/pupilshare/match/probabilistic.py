"""The probabilistic pass: Splink scores the profiles no identifier settled.

Each remaining profile is scored against the index (``predict_between``) and against
the other remaining profiles (``predict_within``). A profile whose best index
candidate is at or above the upper threshold joins it; remaining profiles linked to
each other above the upper threshold form one group (connected components, computed
in SQL), which joins a pupil any member joined or else becomes one new pupil. A group
whose best candidate lies between the thresholds, in the index or among the other new
groups (two records alike, matching nobody in the index), becomes a new pupil for now
and goes to the clerical review queue.

No record is joined on a coin toss: a record joins only a candidate that is clearly
the one (its share of the evidence among the record's candidates reaches the upper
threshold too), and one pupil never takes two UPNs on names alone: permanent ones,
or a school's temporary UPN, which is an identity within a run as a permanent one is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from pupilshare.match.records import splink_input_sql
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.match.model import Model

INDEX_SQL = """
    (SELECT 'p' || p.pupil_key AS unique_id,
        p.* REPLACE (coalesce(p.upn, f.upn) AS upn), f.former_upn, h.former_surname
     FROM pupils p
     LEFT JOIN (
        -- UPNs the pupil's records carried, temporary ones too (a record kept only
        -- under a school's temporary UPN is known by it): the newest, this run's
        -- records first, then the history, then the recorded former UPNs
        SELECT pupil_key, arg_max(upn, (rank, upn))
            FILTER (WHERE upn IS NOT NULL) AS upn,
            arg_max(former_upn, (rank, former_upn))
                FILTER (WHERE former_upn IS NOT NULL)
                AS former_upn
        FROM (
            SELECT pupil_key, NULL AS upn, value AS former_upn, 0 AS rank
            FROM pupil_identifiers WHERE kind = 'former_upn'
            UNION ALL
            SELECT pupil_key, upn, former_upn, coalesce(epoch(last_seen), 1) AS rank
            FROM pupil_history
            UNION ALL
            SELECT pupil_key, CASE WHEN upn_wf THEN upn END,
                CASE WHEN former_wf THEN former_upn END, 1e12 AS rank
            FROM match_profiles WHERE pupil_key IS NOT NULL)
        GROUP BY pupil_key) f USING (pupil_key)
     LEFT JOIN (
        -- a surname the pupil was also known by: a former surname given, or another
        -- surname its records carried
        SELECT h.pupil_key, coalesce(max(h.former_surname),
            arg_max(h.surname, (h.records, h.surname))
                FILTER (WHERE h.surname <> p.surname))
            AS former_surname
        FROM (SELECT pupil_key, surname, former_surname, records FROM pupil_history
              UNION ALL
              SELECT pupil_key, surname, former_surname, records FROM match_profiles
              WHERE pupil_key IS NOT NULL) h
        JOIN pupils p USING (pupil_key)
        GROUP BY h.pupil_key) h USING (pupil_key))
"""
REMAINING_SQL = """
    (SELECT 'r' || profile_id AS unique_id, * FROM match_profiles
     WHERE pupil_key IS NULL)
"""


@dataclass(frozen=True)
class Thresholds:
    upper: float
    lower: float


def explain_sql(labels: dict[str, dict[int, str]], columns: list[str]) -> str:
    """SQL giving, per pair, JSON of each comparison's level and match weight."""
    parts = []
    for field, levels in labels.items():
        if f"gamma_{field}" not in columns:
            continue
        case = " ".join(
            f"WHEN {g} THEN '{lab.replace(chr(39), chr(39) * 2)}'"
            for g, lab in levels.items()
        )
        tf = (
            f" + coalesce(mw_tf_adj_{field}, 0)"
            if f"mw_tf_adj_{field}" in columns
            else ""
        )
        parts.append(
            f"'{field}', json_object('level', CASE gamma_{field} {case} END, "
            f"'weight', round(mw_{field}{tf}, 3))"
        )
    return f"json_object({', '.join(parts)})::VARCHAR" if parts else "'{}'"


def score(store: Store, model: Model, t: Thresholds) -> tuple[pa.Table, pa.Table]:
    """(pairs profile->pupil, pairs profile->profile), each above the lower
    threshold, as Arrow tables."""
    index = store.arrow(splink_input_sql(INDEX_SQL))
    remaining = store.arrow(splink_input_sql(REMAINING_SQL))
    between = model.between(index, remaining, t.lower)
    within = model.within(remaining, t.lower)
    return between, within


# A group holding two different unseen UPNs (joined through a record without one, as
# when two pupils share name and birth date) is split: each UPN stays its own
# person, and each record without a UPN goes with the UPN it is most like, when it
# is clearly that one: that UPN's share of the evidence among the UPNs it is like
# (odds p/(1-p), the same prior on every side) reaches the upper threshold. A record
# as like one as the other stays apart (its own label, the likelier UPN's in
# ``likely``) and is queued against the likelier, never given to one on a coin toss.
SPLIT_CONFLICTS_SQL = """
CREATE OR REPLACE TEMP TABLE match_relabel AS
WITH conflict AS (
    SELECT c.label FROM match_cc c JOIN match_groups g ON g.profile_id = c.node
    WHERE g.grp LIKE 'upn:%' GROUP BY c.label HAVING count(DISTINCT g.grp) > 1
), members AS (
    SELECT node FROM match_cc WHERE label IN (SELECT label FROM conflict)
), grouped AS (
    SELECT profile_id AS node, min(profile_id) OVER (PARTITION BY grp) AS label
    FROM match_groups
    WHERE grp LIKE 'upn:%' AND profile_id IN (SELECT node FROM members)
), e AS (
    SELECT a AS x, b AS y, p FROM match_edges UNION ALL
    SELECT b, a, p FROM match_edges
), liked AS (
    SELECT e.x AS node, g.label, max(e.p) AS p
    FROM e JOIN grouped g ON g.node = e.y
    WHERE e.x IN (SELECT node FROM members) AND e.x NOT IN (SELECT node FROM grouped)
    GROUP BY ALL
), loose AS (
    SELECT node, arg_max(label, (odds, label)) AS label, max(p) AS p,
        max(odds) / sum(odds) AS share
    FROM (SELECT *, p / greatest(1 - p, 1e-12) AS odds FROM liked)
    GROUP BY node
)
SELECT node, label, NULL AS likely, NULL AS p FROM grouped
UNION ALL SELECT node, label, NULL, NULL FROM loose WHERE share >= {upper}
UNION ALL SELECT m.node, m.node, l.label, l.p
FROM members m LEFT JOIN loose l USING (node)
WHERE m.node NOT IN (SELECT node FROM grouped)
  AND (l.share IS NULL OR l.share < {upper})
"""


# Two new profiles alike but below the upper threshold, left in different pupils of
# which at least one is new this run: the newer pupil is provisional, queued against
# the other (a pupil made this run from records matching nobody in the index, or
# one the index already had). Rows: (profile_id, pupil_key, candidate_key, ...).
WITHIN_REVIEW_SQL = """
CREATE OR REPLACE TEMP TABLE match_within_review AS
SELECT CASE WHEN a.pupil_key > b.pupil_key THEN a.profile_id ELSE b.profile_id END
        AS profile_id,
    greatest(a.pupil_key, b.pupil_key) AS pupil_key,
    least(a.pupil_key, b.pupil_key) AS candidate_key,
    w.match_probability, w.match_weight, w.explanation
FROM _within w
JOIN match_profiles a ON a.profile_id = CAST(substr(w.unique_id_l, 2) AS UBIGINT)
JOIN match_profiles b ON b.profile_id = CAST(substr(w.unique_id_r, 2) AS UBIGINT)
WHERE w.match_probability < {upper} AND a.pupil_key <> b.pupil_key
  AND greatest(a.pupil_key, b.pupil_key) >= {first_key}
UNION ALL
-- a record left apart as like two UPNs as each other: queued against the likelier
SELECT r.node, a.pupil_key, b.pupil_key, r.p,
    log2(greatest(r.p, 1e-12) / greatest(1 - r.p, 1e-12)), NULL
FROM match_relabel r
JOIN match_profiles a ON a.profile_id = r.node
JOIN match_profiles b ON b.profile_id = r.likely
WHERE r.likely IS NOT NULL AND a.pupil_key <> b.pupil_key
"""


def decide(
    store: Store,
    model: Model,
    between: pa.Table,
    within: pa.Table,
    t: Thresholds,
    run: int,
    first_key: int,
) -> None:
    """Apply the thresholds to the scored pairs, updating ``match_profiles`` and
    filling the review queue."""
    labels = model.level_labels()
    best = _explained(between, explain_sql(labels, between.column_names), best=True)
    store.register("_best", best)
    store.register(
        "_within",
        _explained(within, explain_sql(labels, within.column_names), best=False),
    )
    store.execute("""
        CREATE OR REPLACE TEMP TABLE match_best AS
        SELECT CAST(substr(unique_id_r, 2) AS UBIGINT) AS profile_id,
            CAST(substr(unique_id_l, 2) AS BIGINT) AS candidate_key,
            match_probability, match_weight, explanation, gamma_upn, share
        FROM _best""")
    # A record joins its best candidate only when that candidate is also clearly
    # the one: its share of the evidence among all the record's candidates reaches
    # the upper threshold too. A record as like two pupils as each other (two
    # pupils alike in name and birth date) is a question for a clerk, never a coin
    # toss. And a permanent UPN never joins a pupil holding a different permanent
    # one on names alone (two pupils alike in name, birth date and area): queued.
    # A school's temporary UPN is an identity within the run too: a record under
    # one never joins on names a pupil known by a different UPN, temporary or
    # permanent, that it is not named for (gamma_upn 0: both present, neither the
    # other's former UPN nor one keying error away).
    store.execute(f"""
        UPDATE match_profiles AS m SET pupil_key = b.candidate_key, method = 'splink',
            match_probability = b.match_probability
        FROM match_best b WHERE b.profile_id = m.profile_id
          AND b.match_probability >= {t.upper} AND b.share >= {t.upper}
          AND m.pupil_key IS NULL
          AND NOT (m.upn_ok AND b.gamma_upn = 0 AND b.candidate_key IN (
              SELECT pupil_key FROM pupils WHERE upn IS NOT NULL))
          AND NOT (m.upn_wf AND NOT m.upn_ok AND b.gamma_upn = 0)""")
    # One pupil, one permanent UPN: two UPNs new to the index that join the same
    # pupil on names in one run cannot both be that pupil (the pupil is likely two
    # people already, joined on records without a UPN). Neither joins on a guess;
    # each becomes a new pupil queued against it.
    store.execute("""
        UPDATE match_profiles SET pupil_key = NULL, method = NULL,
            match_probability = NULL
        WHERE method = 'splink'
          AND profile_id IN (SELECT profile_id FROM match_groups
                             WHERE grp LIKE 'upn:%')
          AND pupil_key IN (
            SELECT p.pupil_key FROM match_profiles p JOIN match_groups g
                USING (profile_id)
            WHERE p.method = 'splink' AND g.grp LIKE 'upn:%'
            GROUP BY p.pupil_key HAVING count(DISTINCT g.grp) > 1)""")
    # Groups of remaining profiles linked to each other (or through a joined one).
    store.execute(f"""
        CREATE OR REPLACE TEMP TABLE match_edges AS
        SELECT CAST(substr(unique_id_l, 2) AS UBIGINT) AS a,
            CAST(substr(unique_id_r, 2) AS UBIGINT) AS b, match_probability AS p
        FROM _within WHERE match_probability >= {t.upper}
        UNION ALL
        SELECT m.a, g.profile_id, 1.0 FROM (
            SELECT grp, min(profile_id) AS a FROM match_groups GROUP BY grp) AS m
        JOIN match_groups g USING (grp) WHERE g.profile_id <> m.a""")
    store.execute("""
        CREATE OR REPLACE TEMP TABLE match_cc AS
        SELECT profile_id AS node, profile_id AS label FROM match_profiles
        WHERE method IS NULL OR method = 'splink'""")
    for _ in range(50):  # label propagation; converges in the groups' diameter
        changed = store.one(
            """
            WITH nb AS (
                SELECT e.a AS node, c.label FROM match_edges e
                    JOIN match_cc c ON c.node = e.b
                UNION ALL
                SELECT e.b, c.label FROM match_edges e JOIN match_cc c ON c.node = e.a
            ), m AS (SELECT node, min(label) AS label FROM nb GROUP BY node)
            SELECT count(*) FROM m JOIN match_cc c USING (node) WHERE m.label < c.label
        """,
        )
        if not changed:
            break
        store.execute("""
            UPDATE match_cc SET label = m.label FROM (
                SELECT node, min(label) AS label FROM (
                    SELECT e.a AS node, c.label FROM match_edges e
                        JOIN match_cc c ON c.node = e.b
                    UNION ALL
                    SELECT e.b, c.label FROM match_edges e
                        JOIN match_cc c ON c.node = e.a) GROUP BY node) AS m
            WHERE m.node = match_cc.node AND m.label < match_cc.label""")
    store.execute(SPLIT_CONFLICTS_SQL.format(upper=t.upper))
    store.execute("""UPDATE match_cc SET label = r.label FROM match_relabel r
                     WHERE r.node = match_cc.node""")
    # A group with a joined member: its other members join the same pupil.
    store.execute("""
        UPDATE match_profiles AS m SET pupil_key = g.pupil_key, method = 'splink',
            match_probability = g.p
        FROM (SELECT c.label, min(p.pupil_key) AS pupil_key,
                  max(p.match_probability) AS p FROM match_cc c
              JOIN match_profiles p ON p.profile_id = c.node
              WHERE p.pupil_key IS NOT NULL GROUP BY c.label) AS g,
             match_cc c
        WHERE c.node = m.profile_id AND c.label = g.label AND m.pupil_key IS NULL""")
    # Groups with none: a new pupil each, for review when a candidate lies between.
    store.execute(f"""
        UPDATE match_profiles AS m SET pupil_key = k.pupil_key,
            method = CASE WHEN k.review THEN 'review'
                WHEN m.profile_id IN (SELECT profile_id FROM match_groups
                    WHERE regexp_matches(grp, '^upn:.*[0-9]$')) THEN 'exact_upn'
                WHEN m.profile_id IN (SELECT profile_id FROM match_groups
                    WHERE grp LIKE 'uln:%') THEN 'exact_uln'
                WHEN m.profile_id IN (SELECT profile_id FROM match_groups)
                    AND k.size > 1 THEN 'exact_temporary_upn'
                WHEN k.size > 1 THEN 'splink'
                ELSE 'new' END,
            match_probability = b.match_probability
        FROM (SELECT label, {first_key} - 1 + row_number() OVER (ORDER BY label)
                  AS pupil_key,
                  bool_or(b.match_probability >= {t.lower}) AS review,
                  count(*) AS size
              FROM match_cc c JOIN match_profiles p ON p.profile_id = c.node
              LEFT JOIN match_best b ON b.profile_id = c.node
              WHERE p.pupil_key IS NULL GROUP BY label) AS k,
             match_cc c LEFT JOIN match_best b ON b.profile_id = c.node
        WHERE c.node = m.profile_id AND c.label = k.label AND m.pupil_key IS NULL""")
    store.execute(WITHIN_REVIEW_SQL.format(first_key=first_key, upper=t.upper))
    store.execute("""
        UPDATE match_profiles SET method = 'review'
        WHERE pupil_key IN (SELECT pupil_key FROM match_within_review)""")
    store.unregister("_within")
    store.unregister("_best")
    _queue_reviews(store, run)


def _queue_reviews(store: Store, run: int) -> None:
    """One review item per provisional pupil: its most likely candidate, a pupil in
    the index or another new pupil of this run."""
    first = store.one("SELECT coalesce(max(review_id), 0) + 1 FROM match_review")
    store.execute(f"""
        INSERT INTO match_review
        SELECT {first} - 1 + row_number() OVER (ORDER BY pupil_key), {run},
            profile_id, pupil_key, candidate_key, match_probability, match_weight,
            explanation, 'pending', NULL, NULL
        FROM (
            SELECT p.profile_id, p.pupil_key, b.candidate_key, b.match_probability,
                b.match_weight, b.explanation
            FROM match_profiles p JOIN match_best b USING (profile_id)
            WHERE p.method = 'review'
            UNION ALL
            SELECT profile_id, pupil_key, candidate_key, match_probability,
                match_weight, explanation
            FROM match_within_review)
        QUALIFY row_number() OVER (PARTITION BY pupil_key
            ORDER BY match_probability DESC, profile_id) = 1""")


def _explained(pairs: pa.Table, explain: str, best: bool) -> pa.Table:
    """Scored pairs with each comparison explained; with ``best``, only each new
    profile's best candidate (ties to the lower key)."""
    con = duckdb.connect()
    con.register("b", pairs)
    keep = (
        "QUALIFY row_number() OVER (PARTITION BY unique_id_r "
        "ORDER BY match_probability DESC, unique_id_l) = 1"
        if best
        else ""
    )
    # The best candidate's share of the evidence among every candidate of the same
    # record: the probability that it is the one, given that the record is one of
    # them (match weights are log2 Bayes factors against the same prior).
    share = (
        "1.0 / sum(pow(2, match_weight - top)) OVER (PARTITION BY unique_id_r)"
        if best
        else "1.0"
    )
    gamma = "gamma_upn" if "gamma_upn" in pairs.column_names else "NULL::INTEGER"
    out = con.sql(f"""
        SELECT unique_id_l, unique_id_r, match_probability, match_weight,
            {explain} AS explanation, {gamma} AS gamma_upn, {share} AS share
        FROM (SELECT *, max(match_weight) OVER (PARTITION BY unique_id_r) AS top
              FROM b) {keep}""").to_arrow_table()
    con.close()
    return out
