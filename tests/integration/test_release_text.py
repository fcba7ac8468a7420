"""Text values leave in every release format exactly as they came in (issue 11
point 3), and every CSV for people is safe to open in a spreadsheet.

A property test writes hostile names (quotes, commas, line breaks, tabs, non-Latin
scripts, emoji, formula starts) into the store, runs a real identified release and
reads both formats back: Parquet holds each value byte for byte; the CSV, read with
Python's csv module and the manifest's stated rule (drop one leading quote of a
text cell), gives the same values, and no text cell opens as a formula.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pupilshare import csvsafe
from pupilshare.config import Home
from pupilshare.plan import ReleasePlan
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth import linked_world

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

PLAN = ReleasePlan(
    "LA-1",
    "LA",
    "SI 2009/1563",
    "own pupils",
    "identified",
    ("census.census_date", "census.upn", "census.surname", "census.forename"),
)
HOSTILE = [
    '=HYPERLINK("http://x","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\tx",
    "O'Brien",
    'say "hi"',
    "a,b",
    "two\nlines",
    "cr\r\nlf",
]
TEXT = st.lists(
    st.sampled_from(
        list("aZ \"',;\n\r\t=+-@|!")
        + ["é", "ß", "Ж", "中", "ا", "😀", "👩‍👧", "\u200b"]
    ),
    min_size=1,
    max_size=12,
).map("".join)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Store:
    home = Home(tmp_path_factory.mktemp("text") / "home").ensure()
    store = Store.open(home)
    linked_world.make_world(store, pupils=120, seed=5)
    population.ensure_opt_outs(store)
    yield store
    store.close()


def _release(store: Store, names: list[str], out: Path) -> tuple[dict, Path]:
    """Give the first census records these surnames (forename = a row tag) and
    release them; returns the tag -> surname sent and the delivered folder."""
    keys = [
        (r[0], r[1])
        for r in store.rows(
            "SELECT l.collection_id, l.line FROM ds_census c JOIN pupil_links l ON "
            "l.dataset = 'census' AND l.collection_id = c.collection_id AND "
            "l.line = c.line ORDER BY l.collection_id, l.line LIMIT ?",
            [len(names)],
        )
    ]
    assert len(keys) == len(names)
    sent = {}
    for i, (name, (cid, line)) in enumerate(zip(names, keys, strict=True)):
        tag = f"T{i}"
        store.rows(
            "UPDATE ds_census SET surname = ?, forename = ? "
            "WHERE collection_id = ? AND line = ?",
            [name, tag, cid, line],
        )
        sent[tag] = name
    home = Home(Path(store.path).parent)
    m = build_release(store, home, PLAN, out)
    return sent, Path(m.out_dir)


def _check(sent: dict, out: Path) -> None:
    t = pq.read_table(out / "census.parquet").to_pydict()
    got = dict(zip(t["forename"], t["surname"], strict=True))
    assert {k: got[k] for k in sent} == sent  # Parquet: byte for byte
    with (out / "census.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cells = {csvsafe.restore(r["forename"]): r["surname"] for r in rows}
    for tag, name in sent.items():
        cell = cells[tag]
        assert csvsafe.restore(cell) == name  # CSV: exact after the stated rule
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rules"]["csv_cells"] == csvsafe.RULE


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(names=st.lists(TEXT, min_size=1, max_size=6))
def test_any_text_survives_every_release_format(
    world: Store, tmp_path_factory, names: list[str]
) -> None:
    sent, out = _release(world, names, tmp_path_factory.mktemp("rel") / "out")
    _check(sent, out)


def test_the_pen_test_names_are_delivered_neutralised(
    world: Store, tmp_path: Path
) -> None:
    """The names of the issue, a double quote among them, no longer kill an
    identified release, and come out of the CSV as text, never as formulas."""
    sent, out = _release(world, HOSTILE, tmp_path / "out")
    _check(sent, out)
    raw = (out / "census.csv").read_text(encoding="utf-8")
    assert '"\'=HYPERLINK(""http://x"",""click"")"' in raw
    assert '"\'@SUM(1+1)"' in raw


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'x", "''x"),
        ("x=1", "x=1"),
        ("", ""),
        (5, 5),
    ],
)
def test_neutralise_follows_owasp_and_is_reversible(value, cell) -> None:
    assert csvsafe.neutralise(value) == cell
    if isinstance(value, str):
        assert csvsafe.restore(csvsafe.neutralise(value)) == value


@given(st.text())
def test_neutralise_round_trips_any_text(value: str) -> None:
    cell = csvsafe.neutralise(value)
    assert csvsafe.restore(cell) == value
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\0"))


def test_the_register_csv_neutralises_a_formula_title(tmp_path: Path) -> None:
    from pupilshare.governance import register

    row = {c: "" for c in register.COLUMNS}
    row.update(title='=HYPERLINK("http://x","y")', purpose="+1", releases_made=2)
    path = tmp_path / "register.csv"
    register._write_csv(path, [row])
    with path.open(newline="", encoding="utf-8") as f:
        got = next(csv.DictReader(f))
    assert got["title"] == '\'=HYPERLINK("http://x","y")' and got["purpose"] == "'+1"
    assert csvsafe.restore(got["title"]) == row["title"] and got["releases_made"] == "2"
