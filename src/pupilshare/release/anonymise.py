"""k-anonymity by full-domain generalisation and record suppression (ARX's model).

Every released column is a quasi-identifier: an intruder may know or infer any of them
(a child's sex and area, the school's measurement day, a height a parent knows, a
column another recipient holds in its own release), so k holds over all of them
together and a record shares every released value with at least k - 1 other pupils.
A linkage on any subset of columns, with any other release, therefore finds at least
k candidates. A measurement (a decimal item) is never released exactly: it starts at
its first coarsening (whole units or a band).

Every column climbs its catalogue hierarchy (``Item.generalise``, then ``*``). A small
lattice is searched by height, least general first; the first height where some node
leaves at most ``max_suppression`` of records in classes of fewer than k pupils wins,
taking the node that suppresses fewest. A lattice too large to search whole (many
columns) is climbed greedily, as Datafly does: raise the column with the most distinct
values at its level (measurements before sex or year group) until the limit is met,
then lower any column that can come back down.
Classes count distinct pupils, not rows, so a pupil with several records cannot make a
class look safe. Re-identification risk is reported with ARX's three attacker models
(prosecutor, journalist, marketer).

Why not ``anjana`` to apply it: anjana generalises a pandas frame by value-list
hierarchies and counts rows, not pupils, outside the engine; the generalisation here
stays in DuckDB SQL over the catalogue's hierarchies and counts distinct pupils.
``pycanon`` (anjana's own checker) re-checks the delivered file independently
(``promises``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from pupilshare import catalogue
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


FULL_SEARCH_MAX = 512  # lattices larger than this are climbed greedily


def _levels(col: Column) -> tuple[str, ...]:
    """The levels a column may be released at, least general first."""
    item = catalogue.item(col.item)
    exact = () if item.type == "decimal" and item.generalise else ("original",)
    return (*exact, *item.generalise, SUPPRESSED)


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
    """
    cols = ", ".join(f"{c.sql} AS {c.name}" for c in selection.columns)
    for table, sql in (
        (SOURCE, source_sql),
        (POPULATION, population_sql or source_sql),
    ):
        store.rows(
            f"CREATE OR REPLACE TEMP TABLE {table} AS "
            f"SELECT {cols}, s.{PUPIL_KEY} FROM ({sql}) s"
        )
    quasi = list(selection.columns)  # every released column (module docstring)
    k = rules.k_anonymity
    total = store.one(f"SELECT count(*) FROM {SOURCE}") or 0
    limit = rules.max_suppression * total
    seen: dict[tuple[int, ...], int] = {}

    def dropped(node: tuple[int, ...]) -> int:
        if node not in seen:
            names = tuple(_levels(c)[i] for c, i in zip(quasi, node, strict=True))
            seen[node] = int(store.rows(_classes_sql(quasi, names, k))[0][1] or 0)
        return seen[node]

    def distinct(i: int, level: int) -> int:
        expr = _expr(quasi[i], _levels(quasi[i])[level])
        return int(store.one(f"SELECT count(DISTINCT {expr}) FROM {SOURCE}") or 0)

    sizes = [len(_levels(c)) for c in quasi]
    if math.prod(sizes) <= FULL_SEARCH_MAX:
        best = _full_search(sizes, dropped, limit)
    else:
        best = _greedy_search(sizes, dropped, limit, distinct)
    chosen = {c.name: _levels(c)[i] for c, i in zip(quasi, best, strict=True)}
    return Result(
        _release_sql(selection, chosen, k),
        chosen,
        _risk(store, selection, chosen, k, total),
    )


def _full_search(
    sizes: list[int], dropped: Callable[[tuple[int, ...]], int], limit: float
) -> tuple[int, ...]:
    """The least general node (by height) within the suppression limit; among nodes
    of that height, the one that drops fewest records."""
    lattice = sorted(
        itertools.product(*[range(n) for n in sizes]), key=lambda n: (sum(n), n)
    )
    best: tuple[tuple[int, ...], int] | None = None
    for node in lattice:
        if best is not None and sum(node) > sum(best[0]):
            break
        d = dropped(node)
        if d <= limit and (best is None or d < best[1]):
            best = (node, d)
    return best[0] if best else tuple(n - 1 for n in sizes)  # top: all suppressed


def _greedy_search(
    sizes: list[int],
    dropped: Callable[[tuple[int, ...]], int],
    limit: float,
    distinct: Callable[[int, int], int],
) -> tuple[int, ...]:
    """Climb one column at a time (the one with most distinct values at its level)
    until within the limit, then bring back down every column that can come down."""
    node = tuple(0 for _ in sizes)
    while dropped(node) > limit:
        up = [i for i in range(len(sizes)) if node[i] < sizes[i] - 1]
        if not up:
            break
        i = max(up, key=lambda i: (distinct(i, node[i]), -i))
        node = node[:i] + (node[i] + 1,) + node[i + 1 :]
    lowered = True
    while lowered:
        lowered = False
        for i in range(len(sizes)):
            if node[i] > 0:
                down = node[:i] + (node[i] - 1,) + node[i + 1 :]
                if dropped(down) <= limit:
                    node, lowered = down, True
    return node


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
        # ARX's marketer model: the share of released pupils an intruder matching
        # every one against the population would expect to re-identify.
        "marketer_risk": round(sum(f / pf for f, _, pf in kept) / pupils, 4)
        if pupils
        else 0.0,
        "sample_uniques_before": int(uniq_before or 0),
        "sample_uniques_after": 0,
    }
