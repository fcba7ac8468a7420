"""k-anonymity by full-domain generalisation and record suppression (ARX's model).

Every quasi-identifier climbs its catalogue hierarchy (``Item.generalise``, then ``*``).
The lattice of generalisation levels is searched by height, least general first; the
first height where some node leaves at most ``max_suppression`` of records in classes
of fewer than k pupils wins, taking the node that suppresses fewest. Classes count
distinct pupils, not rows, so a pupil with several records cannot make a class look
safe. Re-identification risk is reported as ARX and sdcMicro do.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from pupilshare.plan import Sdc
from pupilshare.release.derive import SUPPRESSED, generalise_sql
from pupilshare.release.minimise import Column, Selection
from pupilshare.release.population import PUPIL_KEY
from pupilshare.store import Store

SOURCE = "release_anon_source"
POPULATION = "release_anon_population"


@dataclass(frozen=True)
class Result:
    sql: str  # SELECT of the released rows (generalised, small classes dropped)
    levels: dict[str, str]  # quasi-identifier -> level chosen
    risk: dict[str, float | int]


def _levels(col: Column) -> tuple[str, ...]:
    return ("original", *col.generalise, SUPPRESSED)


def _expr(col: Column, level: str) -> str:
    return col.name if level == "original" else generalise_sql(level, col.name)


def _classes_sql(quasi: list[Column], node: tuple[str, ...], k: int) -> str:
    exprs = [
        f"{_expr(c, lv)} AS q{i}"
        for i, (c, lv) in enumerate(zip(quasi, node, strict=True))
    ]
    keys = ", ".join(exprs) or "1 AS q0"
    return (
        f"SELECT count(*) AS classes, sum(CASE WHEN f < {k} THEN r ELSE 0 END) AS "
        f"dropped, sum(r) AS rows_in, min(CASE WHEN f >= {k} THEN f END) AS min_f "
        f"FROM (SELECT {keys}, count(DISTINCT {PUPIL_KEY}) AS f, count(*) AS r "
        f"FROM {SOURCE} GROUP BY ALL)"
    )


def anonymise(
    store: Store,
    selection: Selection,
    source_sql: str,
    rules: Sdc,
    population_sql: str | None = None,
) -> Result:
    """Materialise the candidate rows, search the lattice, return the release SQL.

    ``population_sql`` is the wider population an intruder might identify from (all
    matched records of the dataset), for journalist risk.
    """  # fmt: skip
    cols = ", ".join(f"{c.sql} AS {c.name}" for c in selection.columns)
    for table, sql in (
        (SOURCE, source_sql),
        (POPULATION, population_sql or source_sql),
    ):
        store.rows(
            f"CREATE OR REPLACE TEMP TABLE {table} AS "
            f"SELECT {cols}, s.{PUPIL_KEY} FROM ({sql}) s"
        )
    quasi = [c for c in selection.columns if c.quasi]
    k = rules.k_anonymity
    total = store.one(f"SELECT count(*) FROM {SOURCE}") or 0
    limit = rules.max_suppression * total
    lattice = list(itertools.product(*[range(len(_levels(c))) for c in quasi]))
    lattice.sort(key=lambda n: (sum(n), n))
    best: tuple[tuple[int, ...], int] | None = None
    height = None
    for node in lattice:
        if height is not None and sum(node) > height:
            break
        names = tuple(_levels(c)[i] for c, i in zip(quasi, node, strict=True))
        _, dropped, _, _ = store.rows(_classes_sql(quasi, names, k))[0]
        dropped = int(dropped or 0)
        if dropped <= limit and (best is None or dropped < best[1]):
            best, height = (node, dropped), sum(node)
    if best is None:  # cannot happen: the top node suppresses everything
        best = (tuple(len(_levels(c)) - 1 for c in quasi), total)
    chosen = {c.name: _levels(c)[i] for c, i in zip(quasi, best[0], strict=True)}
    return Result(_release_sql(selection, chosen, k), chosen,
                  _risk(store, selection, chosen, k, total))  # fmt: skip


def _release_sql(selection: Selection, chosen: dict[str, str], k: int) -> str:
    out = [
        f"{_expr(c, chosen[c.name])} AS {c.name}" if c.name in chosen else c.name
        for c in selection.columns
    ]
    part = ", ".join(f"{_expr(c, lv)}" for c, lv in _pairs(selection, chosen)) or "1"
    order = ", ".join(c.name for c in selection.columns)
    return (
        f"SELECT {', '.join(out)} FROM (SELECT *, count(DISTINCT {PUPIL_KEY}) OVER "
        f"(PARTITION BY {part}) AS __f FROM {SOURCE}) WHERE __f >= {k} "
        f"ORDER BY {order}"
    )


def pupils_sql(selection: Selection, chosen: dict[str, str], k: int) -> str:
    """The pupils whose records survive suppression (recorded, never released)."""
    part = ", ".join(f"{_expr(c, lv)}" for c, lv in _pairs(selection, chosen)) or "1"
    return (
        f"SELECT DISTINCT {PUPIL_KEY} AS pupil_key FROM (SELECT {PUPIL_KEY}, "
        f"count(DISTINCT {PUPIL_KEY}) OVER (PARTITION BY {part}) AS __f "
        f"FROM {SOURCE}) WHERE __f >= {k}"
    )


def _pairs(selection: Selection, chosen: dict[str, str]) -> list[tuple[Column, str]]:
    return [(c, chosen[c.name]) for c in selection.columns if c.name in chosen]


def _risk(
    store: Store, selection: Selection, chosen: dict[str, str], k: int, total: int
) -> dict[str, float | int]:
    """Prosecutor risk over the released classes; journalist risk against the
    candidate population; sample uniques before and after."""
    pairs = _pairs(selection, chosen)
    raw = ", ".join(c.name for c, _ in pairs) or "1"
    uniq_before = store.one(
        f"SELECT count(*) FROM (SELECT {raw}, count(DISTINCT {PUPIL_KEY}) AS f "
        f"FROM {SOURCE} GROUP BY ALL) WHERE f = 1",
    )
    key = (
        "list_value("
        + ", ".join(f"CAST({_expr(c, lv)} AS VARCHAR)" for c, lv in pairs)
        + ")"
        if pairs
        else "1"
    )
    rows = store.rows(
        f"WITH s AS (SELECT {key} AS g, count(DISTINCT {PUPIL_KEY}) AS f, "
        f"count(*) AS r FROM {SOURCE} GROUP BY ALL), "
        f"p AS (SELECT {key} AS g, count(DISTINCT {PUPIL_KEY}) AS pf FROM {POPULATION} "
        f"GROUP BY ALL) SELECT s.f, s.r, coalesce(p.pf, s.f) FROM s LEFT JOIN p "
        f"ON p.g IS NOT DISTINCT FROM s.g"
    )
    kept = [(f, r, max(pf, f)) for f, r, pf in rows if f >= k]
    released = sum(r for _, r, _ in kept)
    pupils = sum(f for f, _, _ in kept)
    min_f = min((f for f, _, _ in kept), default=0)
    min_pf = min((pf for _, _, pf in kept), default=0)
    return {
        "k": k,
        "records_in": int(total),
        "records_released": int(released),
        "records_suppressed": int(total - released),
        "classes": len(kept),
        "smallest_class": int(min_f),
        "prosecutor_risk_max": round(1 / min_f, 4) if min_f else 0.0,
        "prosecutor_risk_avg": round(len(kept) / pupils, 4) if pupils else 0.0,
        "journalist_risk_max": round(1 / min_pf, 4) if min_pf else 0.0,
        "journalist_risk_avg": round(sum(f / pf for f, _, pf in kept) / pupils, 4)
        if pupils
        else 0.0,
        "sample_uniques_before": int(uniq_before or 0),
        "sample_uniques_after": 0,
    }
