"""Hostile and messy returns (issue 11 point 1): no input makes ``collect`` print a
traceback, every line end loads, and each file of a batch stands alone.

The fuzz tests drive the real command (``pupilshare.cli.main``) with hypothesis over
raw bytes and over CSV structure, each time beside a good file in the same batch, and
assert a clean outcome: exit code 0 or 2, the good file loaded, the fuzzed file
either loaded whole or not at all.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pupilshare import catalogue
from pupilshare.cli import main
from pupilshare.collect import lineends
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth.valid_returns import sample_sql

COLS = catalogue.dataset("census").columns


def sample_lines(rows: int, start: int = 0) -> list[str]:
    """Header and ``rows`` valid census rows, as text lines."""
    with Store() as s:
        out = s.arrow(sample_sql(catalogue.dataset("census"), rows, start))
    lines = [",".join(COLS)]
    for r in out.to_pylist():
        lines.append(",".join("" if r[c] is None else str(r[c]) for c in COLS))
    return lines


GOOD = sample_lines(rows=3, start=900)
VALID = sample_lines(rows=4)
FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ENDS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}


def collect(home: Path, *files: Path) -> int:
    return main(["--home", str(home), "collect", "census", *map(str, files)])


def store_state(home: Path) -> dict[str, int]:
    """Per collected file name: rows held; every collection's rows all present."""
    with Store(Home(home).store_path, read_only=True) as s:
        counts = s.rows(
            "SELECT c.file_name, c.row_count, (SELECT count(*) FROM ds_census d "
            "WHERE d.collection_id = c.collection_id) FROM collections c"
        )
    for name, declared, held in counts:
        assert declared == held, f"{name}: {held} rows held of {declared}"
    return {name: held for name, _, held in counts}


def assert_clean(content: bytes) -> None:
    """Collect ``content`` beside a good file: exit 0/2, the good file loaded,
    the other loaded whole or not at all (main raises on any traceback)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        good, odd = root / "good.csv", root / "odd.csv"
        good.write_text("\n".join(GOOD) + "\n")
        odd.write_bytes(content)
        rc = collect(root / "home", good, odd)
        assert rc in (0, 2)
        held = store_state(root / "home")
        assert held.get("good.csv") == 3
        assert (rc == 0) == ("odd.csv" in held)


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_clean_outcome(data: bytes) -> None:
    assert_clean(data)


@FUZZ
@given(st.binary(max_size=400), st.integers(1, 4))
def test_any_bytes_after_good_rows_give_a_clean_outcome(tail: bytes, n: int) -> None:
    head = "\n".join(VALID[:n]).encode() + b"\n"
    assert_clean(head + tail)


FIELD = st.text(st.sampled_from(list('ab,"\r\n \t=é€😀\x00\x01')), max_size=8)


@st.composite
def csv_structures(draw: st.DrawFn) -> bytes:
    """Valid rows with fields replaced by hostile text, quoted or not, joined by
    any mix of line ends, sometimes with a BOM or a missing last line end."""
    rows = [r.split(",") for r in VALID]
    for _ in range(draw(st.integers(0, 6))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(COLS) - 1))
        value = draw(FIELD)
        if draw(st.booleans()):
            value = '"' + value.replace('"', '""') + '"'
        rows[r][c] = value
    if draw(st.booleans()):
        rows.insert(draw(st.integers(1, len(rows))), draw(st.lists(FIELD, max_size=20)))
    ends = [draw(st.sampled_from(list(ENDS.values()))) for _ in rows]
    text = "".join(",".join(r) + e for r, e in zip(rows, ends, strict=True))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    data = text.encode("utf-8", errors="surrogatepass")
    return (b"\xef\xbb\xbf" + data) if draw(st.booleans()) else data


@FUZZ
@given(csv_structures())
def test_any_csv_structure_gives_a_clean_outcome(data: bytes) -> None:
    assert_clean(data)


@pytest.mark.parametrize("kind", ["lf", "crlf", "cr", "mixed"])
def test_every_line_end_loads_the_same_rows(tmp_path: Path, kind: str) -> None:
    if kind == "mixed":
        ends = ["\r\n", "\n", "\r", "\n", "\r\n"]
        text = "".join(line + ends[i] for i, line in enumerate(VALID + ["x"][:0]))
    else:
        text = ENDS[kind].join(VALID) + ENDS[kind]
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(text.encode())
    assert lineends.kind(path.read_bytes()) == kind
    assert collect(tmp_path / "home", path) == 0
    with Store(Home(tmp_path / "home").store_path, read_only=True) as s:
        got = s.rows("SELECT line, surname, forename FROM ds_census ORDER BY line")
    want = [
        (
            i + 2,
            r.split(",")[COLS.index("surname")],
            r.split(",")[COLS.index("forename")],
        )
        for i, r in enumerate(VALID[1:])
    ]
    assert got == want


def test_a_cr_only_file_reports_problems_at_their_physical_line(tmp_path: Path) -> None:
    rows = list(VALID)
    bad = rows[3].split(",")
    bad[COLS.index("date_of_birth")] = "2020-02-31"
    rows[3] = ",".join(bad)
    path = tmp_path / "cr.csv"
    path.write_bytes("\r".join(rows).encode() + b"\r")
    assert collect(tmp_path / "home", path) == 2
    reports = sorted((tmp_path / "home" / "reports").glob("collect-*.csv"))
    with reports[-1].open(newline="") as f:
        rows = [(r["line"], r["field"], r["reason"]) for r in csv.DictReader(f)]
    assert ("4", "date_of_birth", "impossible date (no such day in that month)") in rows


def test_line_ends_inside_quoted_values_are_kept() -> None:
    data = b'a,"x\r\ny\rz"\rb,c\r\n'
    assert lineends.to_lf(data) == b'a,"x\r\ny\rz"\nb,c\n'
    assert lineends.to_lf(b'"a""\r"\rb') == b'"a""\r"\nb'


def test_utf16_is_named_not_called_binary(tmp_path: Path, capsys) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes("\n".join(VALID).encode("utf-16"))
    assert collect(tmp_path / "home", path) == 2
    out = "".join(capsys.readouterr()).replace("\n", "")
    assert "UTF-16 text, not UTF-8" in out and "binary" not in out


def test_a_folder_or_fifo_is_named_for_what_it_is(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    folder = tmp_path / "returns"
    folder.mkdir()
    assert collect(tmp_path / "home", folder, fifo, tmp_path / "gone.csv") == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{folder}:0::a folder, not a file" in err
    assert f"{fifo}:0::a pipe (FIFO), not a regular file" in err
    assert "gone.csv:0::no such file" in err


def test_a_file_the_reader_cannot_parse_costs_only_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """With the line-end rewrite switched off, a mixed file breaks the engine's
    reader: the batch falls back to file by file, the good file still loads."""
    monkeypatch.setattr(lineends, "needs_rewrite", lambda data: False)
    good, odd = tmp_path / "good.csv", tmp_path / "odd.csv"
    good.write_text("\n".join(GOOD) + "\n")
    odd.write_bytes(("\r\n".join(VALID[:3]) + "\n" + "\r".join(VALID[3:])).encode())
    assert collect(tmp_path / "home", good, odd) == 2
    assert store_state(tmp_path / "home") == {"good.csv": 3}
    out = "".join(capsys.readouterr()).replace("\n", "")
    assert "odd.csv:0::cannot read this file as CSV" in out
