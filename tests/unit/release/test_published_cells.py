"""The names of published cells: made in one pass of Arrow for millions of cells, they
must be exactly what the definition says (the dataset and measure, then every fixed
category as ``item=value`` sorted, a total fixing nothing), for any labels, filters
and dimension order, dictionary-encoded or not."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.plan import Sdc, TableSpec
from pupilshare.release import aggregate, published_cells, sdc
from pupilshare.store import Store

ITEMS = ["la_code", "laestab", "key_stage", "subject", "outcome", "sex"]


def _defined(spec: TableSpec, dims: list[str], labels: list[list[str]]) -> list[str]:
    """The definition, one cell at a time."""
    fixed = [f"{i}={v[0]}" for i, v in spec.filters if len(v) == 1]
    fixed += [f"{i} in {'|'.join(sorted(v))}" for i, v in spec.filters if len(v) > 1]
    head = f"{spec.dataset}:{spec.measure or 'count'}"
    out = []
    for row in zip(*labels, strict=True):
        parts = fixed + [
            f"{d}={x}" for d, x in zip(dims, row, strict=True) if x != "Total"
        ]
        out.append(head + ";" + ";".join(sorted(parts)))
    return out


label = st.one_of(st.just("Total"), st.text(min_size=0, max_size=6))


@st.composite
def tables(draw: st.DrawFn) -> tuple[TableSpec, list[str], list[list[str]]]:
    items = draw(st.permutations(ITEMS))
    k = draw(st.integers(1, 4))
    dims, rest = list(items[:k]), list(items[k:])
    filters = tuple(
        (
            item,
            tuple(
                draw(
                    st.lists(
                        st.text("ABC12", min_size=1),
                        min_size=1,
                        max_size=3,
                        unique=True,
                    )
                )
            ),
        )
        for item in rest[: draw(st.integers(0, 2))]
    )
    n = draw(st.integers(0, 12))
    labels = [draw(st.lists(label, min_size=n, max_size=n)) for _ in dims]
    spec = TableSpec(
        "t", "ks_results", tuple(dims[:1]), tuple(dims[1:]), filters=filters
    )
    return spec, dims, labels


@settings(max_examples=200, deadline=None)
@given(tables(), st.booleans())
def test_names_are_the_definition(case: tuple, encoded: bool) -> None:
    spec, dims, labels = case
    given_labels: list = [np.array(lab, dtype=object) for lab in labels]
    if encoded:  # a grid's categories and codes
        given_labels = [
            pa.array(lab, pa.string()).dictionary_encode() for lab in labels
        ]
    names = published_cells.cell_names(spec, dims, given_labels)
    assert names.to_pylist() == _defined(spec, dims, labels)


def test_a_grid_names_every_cell_and_margin() -> None:
    spec = TableSpec("t", "ks_results", ("la_code",), ("outcome",))
    v = sdc.with_margins(np.ones((2, 3)))
    cube = sdc.Cube(("la_code", "outcome"), (("201", "202"), ("A", "B", "C")), v, v)
    names = aggregate.grid_names(spec, cube).to_pylist()
    grid = np.meshgrid(["201", "202", "Total"], ["A", "B", "C", "Total"], indexing="ij")
    assert names == _defined(
        spec, ["la_code", "outcome"], [g.ravel().tolist() for g in grid]
    )


def test_cells_are_looked_up_only_when_the_dataset_was_published_before() -> None:
    store = Store()
    spec = TableSpec("t", "ks_results", ("la_code",), ("outcome",))
    other = TableSpec("u", "ncmp", ("la_code",), ("weight_category",))
    assert not published_cells.any_earlier(store, spec)
    names = published_cells.cell_names(other, ["la_code"], [np.array(["201"], object)])
    published_cells.record(
        store, "R1", "A", "u", names, np.full(1, 12.0), np.array(["exact"])
    )
    assert not published_cells.any_earlier(store, spec)
    assert published_cells.any_earlier(store, other)
    assert not published_cells.any_earlier(store, other, exclude="R1")
    # A table built after it sees that cell (same name, same value) as public.
    store.register(
        "recs", pa.table({"la_code": ["201"] * 12, "__pupil_key": range(12)})
    )
    later = TableSpec("v", "ncmp", ("la_code",), ())
    cube = aggregate.build_table(store, later, "recs", Sdc())
    assert cube.values.ravel().tolist() == [12, 12]
    assert cube.public.ravel().tolist() == [True, False]
