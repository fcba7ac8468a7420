"""Learners as a local authority sees them: its own pupils, one row each, from the
latest census that places them at one of its schools.

Only the items the authority's agreement names are returned, and pupils with an
objection covering the agreement's scope are left out, as in a release. The pupil
key never leaves this module.
"""

from __future__ import annotations

from typing import Any

from pupilshare import catalogue
from pupilshare.store import Store

__all__ = ["la_pupils", "la_pupils_sql"]


def _census_columns(items: tuple[str, ...]) -> list[str]:
    census = catalogue.dataset("census")
    cols = [ref.split(".", 1)[1] for ref in items if ref.startswith("census.")]
    return [c for c in cols if c in census] or ["upn"]


def _column(name: str) -> str:
    """A census item as SQL: collected ones from the return, the authority (derived)
    from the school register."""
    return (
        "s.la_code AS la_code"
        if catalogue.item(f"census.{name}").derived
        else f"c.{name}"
    )


def la_pupils_sql(columns: list[str], opt_outs: bool) -> str:
    """Latest census row per matched pupil, kept when its school is the
    authority's."""
    cols = ", ".join(_column(c) for c in columns)
    excluded = (
        (
            "AND l.pupil_key NOT IN (SELECT pupil_key FROM opt_outs "
            "WHERE scope IN ('all', ?))"
        )
        if opt_outs
        else ""
    )
    return (
        f"WITH latest AS (SELECT {cols}, s.la_code AS _la, row_number() OVER "
        "(PARTITION BY l.pupil_key ORDER BY c.census_date DESC, c.collection_id DESC,"
        " c.line DESC) AS _n FROM ds_census c JOIN pupil_links l ON l.dataset = "
        "'census' AND l.collection_id = c.collection_id AND l.line = c.line "
        "JOIN ds_schools s ON s.laestab = c.laestab "
        f"WHERE TRUE {excluded}) "
        f"SELECT {', '.join(columns)}, count(*) OVER () AS _total FROM latest "
        f"WHERE _n = 1 AND _la = ? ORDER BY {_order(columns)} LIMIT ? OFFSET ?"
    )


def _order(columns: list[str]) -> str:
    keys = [c for c in ("surname", "forename", "upn") if c in columns]
    return ", ".join(keys or columns[:1])


def la_pupils(
    store: Store,
    la_code: str,
    items: tuple[str, ...],
    opt_out_scope: str,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the authority's pupils: ``columns``, ``rows`` and ``total``."""
    columns = _census_columns(items)
    if not all(store.exists(t) for t in ("ds_census", "pupil_links", "ds_schools")):
        return {"columns": columns, "rows": [], "total": 0}
    opt_outs = store.exists("opt_outs")
    params: list[Any] = [opt_out_scope] if opt_outs else []
    rows = store.rows(
        la_pupils_sql(columns, opt_outs), [*params, la_code, int(limit), int(offset)]
    )
    total = rows[0][-1] if rows else 0
    return {
        "columns": columns,
        "rows": [[str(v) if v is not None else "" for v in r[:-1]] for r in rows],
        "total": int(total),
    }
