"""Property tests of the reader and the rules (hypothesis).

1. Any valid rows, written as CSV by Python's csv module (quotes, commas, line breaks
   and accents in values), load unchanged: every value and every physical line.
2. Any single corruption of one required field of one row is reported at exactly
   that line and field, and the file is rejected.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pupilshare import catalogue
from pupilshare.catalogue import Dataset, Item
from pupilshare.collect import Collector
from pupilshare.collect.rules import POSTCODE_SHAPE
from pupilshare.config import Home
from pupilshare.identifiers import LA_NUMBERS, make_upn, uln_check_digit
from pupilshare.store import Store
from pupilshare.synth.valid_returns import sample_sql

LAS = sorted(LA_NUMBERS)
LETTERS = "abcdefghijklmnopqrstuvwxyzéèëüöñçøåßÀÉÖ"
FREE_TEXT = LETTERS + "ABC0123456789 ,;\"'\n-/"
TODAY = date.today()
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def upns(draw: st.DrawFn) -> str:
    la = int(draw(st.sampled_from(LAS)))
    return make_upn(
        la,
        draw(st.integers(0, 9999)),
        draw(st.integers(0, 99)),
        draw(st.integers(0, 999)),
    )


@st.composite
def ulns(draw: st.DrawFn) -> str:
    stem = draw(
        st.integers(100_000_000, 999_999_999).filter(
            lambda s: uln_check_digit(str(s)) not in (None, 10)
        )
    )
    return f"{stem}{uln_check_digit(str(stem))}"


def names() -> st.SearchStrategy[str]:
    return st.builds(
        lambda a, b: a + b,
        st.sampled_from(LETTERS),
        st.text(LETTERS + " -'", max_size=20),
    )


def item_values(ds: Dataset, item: Item, event: date) -> st.SearchStrategy:
    """Valid values of one item (dates of birth are drawn with the row)."""
    if item.codes is not None:
        return st.sampled_from(item.codes.values)
    if item.check == "upn":
        return upns()
    if item.check == "uln":
        return ulns()
    if item.check == "laestab":
        return st.builds(
            lambda la, n: f"{la}{n:04d}", st.sampled_from(LAS), st.integers(0, 9999)
        )
    if item.check == "la_code":
        return st.sampled_from(LAS)
    if item.check == "postcode":
        return st.from_regex(f"^{POSTCODE_SHAPE}$", fullmatch=True)
    if item.check == "name":
        return names()
    if item.check == "email":
        return st.from_regex(r"^[a-z]{1,8}@[a-z]{1,8}\.org$", fullmatch=True)
    if item.type == "date":
        return st.dates(date(1990, 1, 1), event)
    if item.type == "integer":
        return st.integers(int(item.minimum or 0), int(item.maximum or 1000))
    if item.type == "decimal":
        low, high = int((item.minimum or 0) * 10), int((item.maximum or 100) * 10)
        return st.integers(low, high).map(lambda v: v / 10)
    return st.text(FREE_TEXT, min_size=1, max_size=min(item.max_length, 30)).filter(
        lambda s: s.strip() == s and s != ""
    )


@st.composite
def rows_of(draw: st.DrawFn, ds: Dataset) -> list[dict]:
    out, keys = [], set()
    for _ in range(draw(st.integers(1, 6))):
        event = draw(st.dates(date(2015, 9, 1), TODAY - timedelta(days=1)))
        row: dict = {}
        for item in ds.collected:
            if not item.required and draw(st.booleans()):
                row[item.name] = None
            else:
                row[item.name] = draw(item_values(ds, item, event))
        if ds.event_date:
            row[ds.event_date] = event
        if "date_of_birth" in row:
            row["date_of_birth"] = draw(_dob(ds, row, event))
        key = tuple(row[k] for k in ds.unique_key)
        if None not in key and key in keys:
            continue
        keys.add(key)
        out.append(row)
    return out


def _dob(ds: Dataset, row: dict, event: date) -> st.SearchStrategy[date]:
    if ds.year_group is None:
        return st.dates(date(1995, 1, 1), event)
    yg = row[ds.year_group]
    age = 4 if yg == "R" else int(yg) + 4
    start = event.year - (1 if event.month < 9 else 0)
    return st.dates(date(start - age - 1, 9, 1), date(start - age, 8, 31))


def write_csv(ds: Dataset, rows: list[dict], path: Path) -> list[int]:
    """Write rows; return each row's first physical line."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ds.columns)
    lines, line = [], 2
    for r in rows:
        values = ["" if r[c] is None else str(r[c]) for c in ds.columns]
        w.writerow(values)
        lines.append(line)
        line += 1 + sum(v.count("\n") for v in values)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return lines


def collect(tmp_path: Path, ds: Dataset, path: Path) -> tuple[str, Store]:
    store = Store()
    out = Collector(store, Home(tmp_path / "home").ensure()).collect(ds, path)
    return out.status, store


DATASETS = [
    catalogue.dataset(n)
    for n in ("census", "survey_contacts", "ncmp", "qualifications", "ks_results")
]


@SETTINGS
@given(data=st.data())
def test_valid_rows_round_trip(tmp_path: Path, data: st.DataObject) -> None:
    ds = data.draw(st.sampled_from(DATASETS))
    rows = data.draw(rows_of(ds))
    path = tmp_path / f"{ds.name}.csv"
    path.unlink(missing_ok=True)
    first_lines = write_csv(ds, rows, path)
    status, store = collect(tmp_path, ds, path)
    with store:
        problems = store.rows(
            "SELECT line, field, severity, reason FROM "
            "collect_problems WHERE severity = 'error'"
        )
        assert status == "loaded", problems
        got = store.arrow(
            f"SELECT * EXCLUDE (collection_id) FROM {ds.table} ORDER BY line"
        ).to_pylist()
    assert [g.pop("line") for g in got] == first_lines
    assert got == rows


@st.composite
def corruptions(draw: st.DrawFn, item: Item) -> str | None:
    """A value that breaks ``item``: missing, wrong type, code or check, too long."""
    options: list = [None, "x" * (item.max_length + 1)]
    if item.codes is not None:
        options.append("ZZ9")
    if item.type == "date":
        options += ["2021-02-30", "12/01/2020", "2999-01-01"]
    if item.type in ("integer", "decimal"):
        options += ["twelve", "1e3"]
    if item.check == "upn":
        options += ["A00000000000Z", "H80120000100"]
    return draw(st.sampled_from(options))


@SETTINGS
@given(data=st.data())
def test_a_corrupted_required_field_is_found(
    tmp_path: Path, data: st.DataObject
) -> None:
    ds = data.draw(st.sampled_from(DATASETS))
    with Store() as s:
        rows = s.arrow(sample_sql(ds, 8)).to_pylist()
    index = data.draw(st.integers(0, len(rows) - 1))
    item = data.draw(st.sampled_from([i for i in ds.collected if i.required]))
    rows[index][item.name] = data.draw(corruptions(item))
    path = tmp_path / "bad.csv"
    path.unlink(missing_ok=True)
    write_csv(ds, rows, path)
    status, store = collect(tmp_path, ds, path)
    with store:
        errors = set(
            store.rows(
                "SELECT line, field FROM collect_problems WHERE severity = 'error'"
            )
        )
        assert store.one(f"SELECT count(*) FROM {ds.table}") == 0
        assert store.one("SELECT count(*) FROM collections") == 0
    assert status == "rejected"
    assert errors == {(index + 2, item.name)}
