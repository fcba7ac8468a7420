"""Splink's own charts of the match model, for the data linkage team.

The match weights chart (each comparison level's partial weight, and the prior) and
the m and u parameters chart are what a linkage team reads first to judge a
Fellegi-Sunter model. Splink gives each as a Vega-Lite spec with its data inline;
here each is rendered without any network (vl-convert) to a PNG, and both go on one
HTML page as inline SVG, with the specs kept beside them as JSON. Splink's own HTML
export loads Vega from a CDN unless it inlines a megabyte of JavaScript per chart; a
page of SVG opens anywhere, including a secure room with no internet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from pupilshare import chart
from pupilshare.config import Home
from pupilshare.match.records import splink_input_sql
from pupilshare.match.settings import match_settings

if TYPE_CHECKING:
    from pupilshare.match.model import Model

# (file stem, title, Splink visualisation method)
CHARTS = (
    ("match-weights", "Match weights", "match_weights_chart"),
    ("m-u-parameters", "m and u parameters", "m_u_parameters_chart"),
)
PAGE = "match-model.html"


def model_specs(model: Model) -> dict[str, dict]:
    """Each chart's Vega-Lite spec, data included, by file stem."""
    v = model.linker.visualisations
    return {stem: getattr(v, method)().chart_dict for stem, _, method in CHARTS}


def write_charts(model: Any, out_dir: Path, intro: str | None = None) -> list[Path]:
    """PNG of each chart and one offline HTML page of both; the paths written.
    ``model`` is anything holding a Splink ``linker`` (the index's model, or the
    one ``link`` fits to two files)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, sections = [], []
    specs = model_specs(model)
    for stem, title, _ in CHARTS:
        png = out_dir / f"{stem}.png"
        svg = chart.write_png(specs[stem], png)
        written.append(png)
        sections.append(chart.section(f"{stem}-spec", title, specs[stem], svg))
    page = out_dir / PAGE
    page.write_text(
        chart.page("pupilshare match model", intro or INTRO, sections), encoding="utf-8"
    )
    return [page, *written]


def model_charts(home: Home, out_dir: Path) -> list[Path]:
    """The charts of the model a match run would use now: the home's trained model,
    or the shipped one while the home has none."""
    # imported here to save start-up time: Splink loads only when charts are drawn
    from pupilshare.match.model import DEFAULT_MODEL, Model

    path = home.root / match_settings(home)["model"]
    model = Model(empty_input(), path if path.exists() else DEFAULT_MODEL)
    try:
        return write_charts(model, out_dir)
    finally:
        model.close()


def empty_input() -> pa.Table:
    """A Splink input table with no rows: enough to load a saved model for charts."""
    con = duckdb.connect()
    cols = (
        "NULL::VARCHAR AS unique_id, NULL::VARCHAR AS forename, NULL::VARCHAR AS "
        "surname, NULL::VARCHAR AS former_surname, NULL::DATE AS date_of_birth, "
        "NULL::VARCHAR AS sex, NULL::VARCHAR AS postcode, NULL::VARCHAR AS upn, "
        "NULL::VARCHAR AS former_upn"
    )
    table = con.sql(splink_input_sql(f"(SELECT {cols} WHERE false)")).to_arrow_table()
    con.close()
    return table


INTRO = (
    "Splink's charts of the Fellegi-Sunter model the match runs use: the partial "
    "match weight of each comparison level (log2 of m/u) and the m and u "
    "probabilities behind them. Drawn without network access; each chart's "
    "Vega-Lite spec follows it as JSON."
)
