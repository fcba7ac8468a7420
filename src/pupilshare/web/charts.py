"""Charts drawn on the server as SVG: no JavaScript, readable by a screen reader
(a title and a description, and the same figures in a table beside each chart),
in colours that keep 3:1 contrast against white (WCAG 2.2 non-text contrast)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

# GOV.UK palette colours with at least 3:1 contrast on white
COLOURS = (
    "#1d70b8",
    "#d4351c",
    "#00703c",
    "#4c2c92",
    "#b58840",
    "#912b88",
    "#28a197",
    "#505a5f",
)
MAX_LINES = len(COLOURS)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 280, 48, 170, 16, 40


@dataclass(frozen=True)
class Chart:
    svg: str
    title: str
    lines: int


def trend_chart(records: list[dict], name: str) -> Chart | None:
    """Percent reaching the expected standard by year, one line per group; None
    when there is nothing to draw or too many groups to tell apart."""
    groups: dict[str, dict[str, float]] = {}
    for r in records:
        groups.setdefault(str(r["group"]), {})[str(r["year"])] = float(r["percent"])
    years = sorted({y for g in groups.values() for y in g})
    if not years or len(groups) > MAX_LINES:
        return None
    title = f"Pupils reaching the expected standard, {name.replace('_', ' ')} (%)"
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(years) - 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(years) > 1 else plot_w / 2)

    def y(p: float) -> float:
        return TOP + plot_h * (1 - p / 100)

    ident = escape(name)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="t-{ident} d-{ident}" class="app-chart" '
        'font-family="GDS Transport, arial, sans-serif">',
        f'<title id="t-{ident}">{escape(title)}</title>',
        f'<desc id="d-{ident}">Line chart of {len(groups)} groups over '
        f"{len(years)} years; the figures are in the table that follows.</desc>",
    ]
    for p in (0, 25, 50, 75, 100):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(p):.1f}" '
            f'y2="{y(p):.1f}" stroke="#b1b4b6" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(p) + 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="#0b0c0c">{p}%</text>'
        )
    for i, year in enumerate(years):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 18}" '
            f'text-anchor="middle" font-size="12" fill="#0b0c0c">'
            f"{escape(year)}</text>"
        )
    for n, (group, by_year) in enumerate(sorted(groups.items())):
        colour = COLOURS[n]
        pts = [(x(i), y(by_year[yr])) for i, yr in enumerate(years) if yr in by_year]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" '
                'stroke-width="3"/>'
            )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"/>'
            for px, py in pts
        ]
        ly = TOP + 14 + n * 20
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{ly - 10}" width="14" '
            f'height="14" fill="{colour}"/><text x="{WIDTH - RIGHT + 32}" '
            f'y="{ly + 2}" font-size="13" fill="#0b0c0c">'
            f"{escape(group[:22])}</text>"
        )
    parts.append("</svg>")
    return Chart("".join(parts), title, len(groups))


def pivot(columns: list[str], rows: list[list]) -> dict | None:
    """A published long table (dimensions, ``value``, ``symbol``) as a cross
    table for reading: the last dimension across, the others down. Suppressed
    cells show their symbol ([c]); None when the table has no such shape."""
    if "value" not in columns:
        return None
    dims = [c for c in columns if c not in ("value", "symbol")]
    if len(dims) < 2:
        return None
    vi, si = (
        columns.index("value"),
        columns.index("symbol") if "symbol" in columns else None,
    )
    down, across = [columns.index(d) for d in dims[:-1]], columns.index(dims[-1])
    heads: list[str] = []
    table: dict[tuple, dict[str, str]] = {}
    for r in rows:
        key, col = tuple(str(r[i]) for i in down), str(r[across])
        if col not in heads:
            heads.append(col)
        shown = r[vi]
        if shown is None:
            shown = f"[{r[si] or 'c'}]" if si is not None else "[c]"
        table.setdefault(key, {})[col] = str(shown)
    return {
        "down": dims[:-1],
        "across": dims[-1],
        "heads": heads,
        "rows": [[*k, *(v.get(h, "") for h in heads)] for k, v in table.items()],
    }
