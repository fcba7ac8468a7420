"""Key stage trends: the chart of the percentage reaching the expected standard by
year, drawn beside an aggregate release's trend tables (attainment by year, nationally
and by group; the department's own are the ``dfe-ks-trends`` agreement's tables).

Percentages are computed only from published cells (a suppressed count gives no
percentage), so the chart adds nothing a reader could not work out from the tables.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pupilshare import chart
from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release.sdc import TOTAL

EXPECTED = "reached_expected"
YEAR = "academic_year"
CHART = "attainment_trends.html"
CHART_PNG = "attainment_trends.png"


def is_trend(spec: TableSpec) -> bool:
    return (
        spec.dataset == "ks_results"
        and EXPECTED in spec.columns
        and (spec.rows[:1] == (YEAR,))
    )


def percentages(spec: TableSpec, table: pa.Table) -> list[dict]:
    """Percent reaching the expected standard per year (and group), where both the
    count reaching it and the group total are published."""
    group = spec.rows[1] if len(spec.rows) > 1 else None
    cells: dict[tuple, dict[str, float]] = {}
    for row in table.to_pylist():
        if row[YEAR] == TOTAL or row["value"] is None:
            continue
        if group and row[group] == TOTAL:
            continue
        key = (row[YEAR], row[group] if group else "all pupils")
        cells.setdefault(key, {})[row[EXPECTED]] = row["value"]
    out = []
    for (year, label), v in sorted(cells.items()):
        if "Y" in v and v.get(TOTAL):
            out.append(
                {
                    "year": year,
                    "group": label,
                    "table": spec.name,
                    "percent": round(100 * v["Y"] / v[TOTAL], 1),
                }
            )
    return out


def chart_spec(records: list[dict]) -> dict:
    """Vega-Lite: one panel per table, a line per group."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Pupils reaching the expected standard (%)",
        "data": {"values": records},
        "facet": {"row": {"field": "table", "type": "nominal", "title": None}},
        "spec": {
            "width": 420,
            "height": 160,
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "year", "type": "ordinal", "title": "academic year"},
                "y": {
                    "field": "percent",
                    "type": "quantitative",
                    "scale": {"domain": [0, 100]},
                },
                "color": {"field": "group", "type": "nominal"},
            },
        },
        "resolve": {"scale": {"color": "independent"}},
    }


def charts(plan: ReleasePlan, tables: dict[str, pa.Table], staging: Path) -> list[str]:
    """Write the trend chart next to the tables when the plan has trend tables.

    The Vega-Lite spec is rendered here (vl-convert, no network) to a PNG and to a
    self-contained HTML page with the chart inline as SVG: a recipient in a secure
    environment can open either without fetching anything.
    """
    records = [
        r
        for spec in plan.tables
        if is_trend(spec) and spec.name in tables
        for r in percentages(spec, tables[spec.name])
    ]
    if not records:
        return []
    spec = chart_spec(records)
    svg = chart.write_png(spec, staging / CHART_PNG)
    (staging / CHART).write_text(
        chart.page(
            "Attainment trends",
            "Percentages from published (disclosure-controlled) counts only.",
            [chart.section("vega-lite-spec", None, spec, svg)],
        )
    )
    return [CHART, CHART_PNG]
