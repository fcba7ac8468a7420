"""Accuracy of the pupil index against a synthetic nation's truth file.

Pairwise on records: every pair of linked records is a predicted match when they share
a pupil and a true match when they share a person. Precision, recall and F1 come from
three sums of n(n-1)/2, all in SQL. Records join the truth on their file's path
relative to the nation directory (the tail of ``collections.file_path``) and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pupilshare.errors import NotFound
from pupilshare.store import Store


def _joined_sql(truth_csv: str, links: str) -> str:
    """CTEs ending in ``j``: each linked record's pupil key and true person."""
    return f"""
    WITH truth AS (
        SELECT dataset, file, line::BIGINT AS line, person_id::VARCHAR AS person_id
        FROM read_csv('{truth_csv}', all_varchar = true, header = true)
    ), suffixes AS (
        -- the last k parts of each collected path, to meet the truth's relative
        -- paths whether collect kept absolute, relative or moved paths
        SELECT collection_id, array_to_string(list_slice(parts, len(parts) - k + 1,
            len(parts)), '/') AS file
        FROM (SELECT collection_id, string_split(file_path, '/') AS parts
              FROM collections), range(1, 6) AS r(k)
        WHERE k <= len(parts)
    ), files AS (
        SELECT collection_id, arg_max(s.file, length(s.file)) AS file
        FROM suffixes s JOIN (SELECT DISTINCT file FROM truth) USING (file)
        GROUP BY collection_id
    ), j AS (
        SELECT l.pupil_key, t.person_id
        FROM {links} l JOIN files f USING (collection_id)
        JOIN truth t ON t.file = f.file AND t.line = l.line AND t.dataset = l.dataset
    )"""


def accuracy_sql(truth_csv: str, links: str = "pupil_links") -> str:
    """Pairwise counts for any table of (dataset, collection_id, line, pupil_key)."""
    return f"""{_joined_sql(truth_csv, links)},
    cells AS (SELECT pupil_key, person_id, count(*) AS n FROM j GROUP BY ALL)
    SELECT
        (SELECT count(*) FROM j) AS records,
        (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM cells) AS tp,
        (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM
            (SELECT sum(n) AS n FROM cells GROUP BY pupil_key)) AS predicted,
        (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM
            (SELECT sum(n) AS n FROM cells GROUP BY person_id)) AS actual,
        (SELECT count(DISTINCT pupil_key) FROM j) AS pupils,
        (SELECT count(DISTINCT person_id) FROM j) AS persons
    """


def resolved_links_sql(truth_csv: str, links: str, name: str) -> str:
    """A temp table ``name``: ``links`` with each pending review item decided as a
    clerk who knew the truth would: accepted (the provisional pupil merged into the
    candidate) when both pupils' records are mostly the same person. Lets a bench
    score the index as it stands once the queue is worked."""
    return f"""
    CREATE OR REPLACE TEMP TABLE {name} AS
    {_joined_sql(truth_csv, links)},
    major AS (SELECT pupil_key, mode(person_id) AS person FROM j GROUP BY pupil_key),
    ok AS (
        SELECT DISTINCT ON (r.pupil_key) r.pupil_key, r.candidate_key
        FROM match_review r
        JOIN major a ON a.pupil_key = r.pupil_key
        JOIN major b ON b.pupil_key = r.candidate_key
        WHERE r.status = 'pending' AND a.person = b.person
    )
    SELECT l.dataset, l.collection_id, l.line,
        coalesce(ok.candidate_key, l.pupil_key) AS pupil_key
    FROM {links} l LEFT JOIN ok USING (pupil_key)
    """


def find_truth(store: Store, home_root: Path) -> Path | None:
    """The nation's truth file: the demo's nation, else beside a collected file."""
    candidates = [home_root / "nation" / "truth.csv"]
    if store.exists("collections"):
        path = store.one("SELECT min(file_path) FROM collections")
        if path:
            candidates += [p / "truth.csv" for p in Path(str(path)).parents]
    return next((c for c in candidates if c.exists()), None)


def pairwise(store: Store, truth_csv: Path, links: str = "pupil_links") -> dict:
    """Precision, recall and F1 of any record-to-cluster table against the truth."""
    if not truth_csv.exists():
        raise NotFound(f"no truth file at {truth_csv}")
    row = store.rows(accuracy_sql(str(truth_csv), links))[0]
    records, tp, predicted, actual, pupils, persons = (int(v) for v in row)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": records,
        "pupils": pupils,
        "persons": persons,
        "true_pairs": actual,
        "predicted_pairs": predicted,
        "correct_pairs": tp,
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
    }


def accuracy(store: Store, truth_csv: Path) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of the index, plus review volume."""
    out = pairwise(store, truth_csv)
    review = int(
        store.one(
            "SELECT count(*) FROM pupil_links l JOIN match_review r "
            "ON r.pupil_key = l.pupil_key AND r.status = 'pending'",
        )
        or 0
    )
    all_records = int(store.one("SELECT count(*) FROM pupil_links") or 0)
    unusable = int(store.one("SELECT count(*) FROM match_unusable") or 0)
    return {
        **out,
        "review_records": review,
        "review_share": round(review / all_records, 6) if all_records else 0.0,
        "unusable": unusable,
        "truth": str(truth_csv),
    }
