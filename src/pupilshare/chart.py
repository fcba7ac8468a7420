"""Vega-Lite charts drawn without a network: a PNG each and one self-contained page.

Recipients and linkage teams may open them in a secure room with no internet, so
nothing is fetched: vl-convert renders each spec to PNG and to SVG, and the page
carries the SVGs inline with each spec beside it as JSON (for anyone who wants to
redraw it). One place for this, used by the release trend chart and the match
model's charts.
"""

from __future__ import annotations

import html
import json
from pathlib import Path


def write_png(spec: dict, path: Path) -> str:
    """Write the chart as a PNG at ``path``; return it as SVG for a page."""
    import vl_convert  # here to save start-up time (~85 ms): only charts need it

    text = json.dumps(spec, default=float)
    path.write_bytes(vl_convert.vegalite_to_png(text, scale=2))
    return vl_convert.vegalite_to_svg(text)


def section(chart_id: str, heading: str | None, spec: dict, svg: str) -> str:
    """One chart for ``page``: its heading, its SVG, its spec as JSON."""
    # "</" would end the script element early; JSON allows "<\/" for it
    data = json.dumps(spec, default=float).replace("</", "<\\/")
    head = f"<h2>{html.escape(heading)}</h2>\n" if heading else ""
    return (
        f'{head}{svg}\n<script type="application/json" id="{chart_id}">{data}</script>'
    )


def page(title: str, intro: str, sections: list[str]) -> str:
    """A self-contained HTML page of ``section``s under a title and a short note."""
    t = html.escape(title)
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{t}</title>'
        f"</head>\n<body><h1>{t}</h1>\n<p>{html.escape(intro)}</p>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
