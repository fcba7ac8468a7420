"""Key stage trends: attainment by year, nationally, by LA and by pupil group, as
disclosure-controlled count tables, with a chart of the percentage reaching the
expected standard.

Percentages are computed only from published cells (a suppressed count gives no
percentage), so the chart adds nothing a reader could not work out from the tables.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from pupilshare import chart
from pupilshare.plan import ReleasePlan, TableSpec
from pupilshare.release.sdc import TOTAL

EXPECTED = "reached_expected"
YEAR = "academic_year"
BREAKDOWNS = ("la_code", "sex", "fsm_eligible", "sen_provision", "ethnic_group")
CHART = "attainment_trends.html"
CHART_PNG = "attainment_trends.png"


def trend_tables(key_stage: str = "2", subject: str = "READ") -> tuple[TableSpec, ...]:
    """Pupils reaching the expected standard by year: national and by each group."""
    filters = (("key_stage", (key_stage,)), ("subject", (subject,)))
    tag = f"ks{key_stage}_{subject.lower()}"
    national = TableSpec(f"{tag}_national", "ks_results", (YEAR,), (EXPECTED,),
                         filters=filters)  # fmt: skip
    return (
        national,
        *(
            TableSpec(
                f"{tag}_by_{b}", "ks_results", (YEAR, b), (EXPECTED,), filters=filters
            )  # fmt: skip
            for b in BREAKDOWNS
        ),
    )


def trends_plan(reference_date: date | None = None) -> ReleasePlan:
    """The department's own key stage 2 trend statistics (official statistics)."""
    tables = trend_tables("2", "READ") + trend_tables("2", "MATH")
    items = sorted({f"ks_results.{d}" for t in tables for d in (*t.rows, *t.columns)})
    return ReleasePlan(
        agreement_id="dfe-ks-trends", recipient="public (official statistics)",
        gateway="official statistics", purpose="statistics on trends in attainment",
        level="aggregate", items=tuple(items), tables=tables,
        opt_out_scope="statistics", reference_date=reference_date or date.today(),
    )  # fmt: skip


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
            out.append({"year": year, "group": label, "table": spec.name,
                        "percent": round(100 * v["Y"] / v[TOTAL], 1)})  # fmt: skip
    return out


def chart_spec(records: list[dict]) -> dict:
    """Vega-Lite: one panel per table, a line per group."""
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Pupils reaching the expected standard (%)",
        "data": {"values": records},
        "facet": {"row": {"field": "table", "type": "nominal", "title": None}},
        "spec": {
            "width": 420, "height": 160, "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "year", "type": "ordinal", "title": "academic year"},
                "y": {"field": "percent", "type": "quantitative",
                      "scale": {"domain": [0, 100]}},
                "color": {"field": "group", "type": "nominal"},
            },
        },
        "resolve": {"scale": {"color": "independent"}},
    }  # fmt: skip


def charts(plan: ReleasePlan, tables: dict[str, pa.Table], staging: Path) -> list[str]:
    """Write the trend chart next to the tables when the plan has trend tables.

    The Vega-Lite spec is rendered here (vl-convert, no network) to a PNG and to a
    self-contained HTML page with the chart inline as SVG: a recipient in a secure
    environment can open either without fetching anything.
    """
    records = [
        r for spec in plan.tables if is_trend(spec) and spec.name in tables
        for r in percentages(spec, tables[spec.name])
    ]  # fmt: skip
    if not records:
        return []
    spec = chart_spec(records)
    svg = chart.write_png(spec, staging / CHART_PNG)
    (staging / CHART).write_text(chart.page(
        "Attainment trends",
        "Percentages from published (disclosure-controlled) counts only.",
        [chart.section("vega-lite-spec", None, spec, svg)],
    ))  # fmt: skip
    return [CHART, CHART_PNG]
