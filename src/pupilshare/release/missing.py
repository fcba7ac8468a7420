"""Cells with no data because the file that held it was rejected: shown ``x`` (not
available), never as a count of 0 (issue 10 point 5).

A return's file name says what it covers (``DEVELOPERS.md``, "File names"): a key
stage results file one key stage, academic year and local authority; an NCMP file one
year and LA; a census file one year, term and school. A rejected file with no
accepted file of the same name received after it leaves that scope empty in the
store. A cell lies wholly inside such a scope when every item of the scope is fixed
by the cell (one of its categories, or a single-valued filter), a school fixing its
LA (the first three digits of its LAESTAB); such a cell is ``x``. Cells that add up
over a scope and more (totals) keep their value; the manifest names every rejected
file the release's figures lack.
"""

from __future__ import annotations

import re

import numpy as np

from pupilshare.plan import TableSpec
from pupilshare.store import Store

TOTAL = "Total"
SCOPES: dict[str, re.Pattern] = {
    "ks_results": re.compile(
        r"ks(?P<key_stage>\d)_(?P<academic_year>\d{4})_(?P<la_code>\d{3})\.csv$"
    ),
    "ncmp": re.compile(r"ncmp_(?P<academic_year>\d{4})_(?P<la_code>\d{3})\.csv$"),
    "census": re.compile(
        r"census_(?P<academic_year>\d{4})_(?P<term>[a-z]+)_(?P<laestab>\d{7})\.csv$"
    ),
}


def rejected(store: Store, dataset: str) -> list[tuple[str, dict[str, str]]]:
    """Rejected files of ``dataset`` never replaced, with the scope each covered."""
    if dataset not in SCOPES or not store.exists("rejections"):
        return []
    later = (
        "AND NOT EXISTS (SELECT 1 FROM collections c WHERE c.dataset = r.dataset "
        "AND c.file_name = r.file_name AND c.received_at >= r.received_at)"
        if store.exists("collections")
        else ""
    )
    names = store.rows(
        f"SELECT DISTINCT file_name FROM rejections r WHERE dataset = ? {later} "
        "ORDER BY file_name",
        [dataset],
    )
    out = []
    for (name,) in names:
        m = SCOPES[dataset].search(str(name).replace("\\", "/").split("/")[-1])
        if m:
            out.append((str(name), m.groupdict()))
    return out


def cells(
    spec: TableSpec,
    dims: tuple[str, ...],
    labels: tuple[tuple[str, ...], ...],
    scopes: list[dict[str, str]],
) -> np.ndarray:
    """Which cells of the grid (categories then ``Total`` on each axis) lie wholly
    inside one of the scopes."""
    shape = tuple(len(lab) + 1 for lab in labels)
    out = np.zeros(shape, bool)
    fixed = {item: values[0] for item, values in spec.filters if len(values) == 1}
    for scope in scopes:
        inside = np.ones(shape, bool)
        for item, value in scope.items():
            if item in dims:
                axis = dims.index(item)
                hit = np.array([lab == value for lab in labels[axis]] + [False])
            elif item == "la_code" and "laestab" in dims:
                axis = dims.index("laestab")
                hit = np.array([lab[:3] == value for lab in labels[axis]] + [False])
            elif fixed.get(item) == value:
                continue
            else:
                inside[...] = False
                break
            view = [None] * len(shape)
            view[axis] = slice(None)
            inside &= hit[tuple(view)]
        out |= inside
    return out
