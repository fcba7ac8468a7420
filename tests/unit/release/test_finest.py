"""The finest common cells of linked tables (``release/finest.py``): every published
cell is the sum of the finest cells it counts, through hierarchies and filters."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare import codesets
from pupilshare.release import finest, linked
from pupilshare.release.sdc import with_margins

SCHOOLS = ("8070001", "8070002", "8160001")
OUTCOMES = ("AS", "EXS", "NS", "A")
ITEMS = ("laestab", "la_code", "outcome", "reached_expected", "sex")


def _attrs(school: str, outcome: str, sex: str) -> dict[str, str]:
    return {
        "laestab": school,
        "la_code": school[:3],
        "outcome": outcome,
        "reached_expected": "Y" if outcome in codesets.KS_EXPECTED else "N",
        "sex": sex,
    }


def _table(
    name: str, records: list[dict], dims: tuple[str, ...], fixed: dict[str, str]
) -> linked.Table:
    """A table counted the plain way: categories those records have, Totals."""
    rows = [r for r in records if all(r[k] == v for k, v in fixed.items())]
    labels = tuple(tuple(sorted({r[d] for r in rows})) for d in dims)
    counts = np.zeros(tuple(len(lab) for lab in labels))
    for r in rows:
        counts[tuple(lab.index(r[d]) for d, lab in zip(dims, labels, strict=True))] += 1
    values = with_margins(counts)
    return linked.Table(
        name,
        "ks:count",
        {k: frozenset([v]) for k, v in fixed.items()},
        dims,
        labels,
        values,
        np.zeros(values.shape, bool),
    )


records_st = st.lists(
    st.tuples(
        st.sampled_from(SCHOOLS), st.sampled_from(OUTCOMES), st.sampled_from("FM")
    ),
    min_size=1,
    max_size=40,
)
table_st = st.tuples(
    st.lists(st.sampled_from(ITEMS), min_size=0, max_size=2, unique=True),
    st.sampled_from([{}, {"sex": "F"}, {"reached_expected": "Y"}, {"la_code": "807"}]),
)


@settings(max_examples=60, deadline=None)
@given(records_st, st.lists(table_st, min_size=1, max_size=4))
def test_every_cell_is_the_sum_of_its_finest_cells(
    raw: list[tuple[str, str, str]], specs: list
) -> None:
    records = [_attrs(*r) for r in raw]
    tables = []
    for k, (dims, fixed) in enumerate(specs):
        dims = tuple(d for d in dims if d not in fixed)
        if any(d in fixed or d in linked.ancestors(f) for d in dims for f in fixed):
            continue
        tables.append(_table(f"t{k}", records, dims, fixed))
    if not tables:
        return
    axes = finest.universe(tables)
    # The records' finest cells (each record in the one cell of its categories).
    y = np.zeros(finest.size(axes))
    shape = tuple(a.size for a in axes)
    for r in records:
        at = []
        for a in axes:
            # Its own category, else the rest of the nearest coarser one listed,
            # else none of these; none left: outside every table's filters.
            names = [r[a.item]]
            names += [f"{lv}={r[lv]}{finest.REST}" for lv in linked.ancestors(a.item)]
            hit = [i for n in names for i in np.flatnonzero(a.at[a.item] == n)]
            hit += list(np.flatnonzero(a.at[a.item] == finest.NONE))
            if not hit:
                break
            at.append(int(hit[0]))
        else:
            y[np.ravel_multi_index(tuple(at), shape)] += 1
    for t in tables:
        assert np.array_equal(finest.incidence(t, axes) @ y, t.values.ravel())


def test_an_la_without_schools_of_its_own_has_room_for_them() -> None:
    """An LA table beside a school table of another LA: the synthetic school
    ``la_code=816/*`` holds LA 816's pupils, "none of these" the rest."""
    records = [_attrs("8070001", "AS", "F"), _attrs("8160001", "NS", "M")]
    school = _table("s", records, ("laestab",), {"la_code": "807"})
    la = _table("l", records, ("la_code",), {})
    axes = finest.universe([school, la])
    (geo,) = axes
    assert "la_code=816/*" in list(geo.at["laestab"])
    assert set(geo.at["la_code"]) >= {"807", "816"}
