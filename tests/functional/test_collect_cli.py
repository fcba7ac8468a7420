"""``pupilshare collect`` on good and bad returns: exit codes, problems, nothing loaded.

Each bad input of issue 2 item 6 gets a test that asserts the exit code, the problem
reported at the right ``file:line:field`` and that the store holds nothing from it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pupilshare import catalogue
from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.synth.valid_returns import write_sample

CENSUS = catalogue.dataset("census")
COLS = CENSUS.columns


def sample_lines(ds: str = "census", rows: int = 5, start: int = 0) -> list[str]:
    """Header and ``rows`` valid rows of a dataset, as text lines."""
    with Store() as s:
        tmp = s.one("SELECT current_setting('temp_directory')") or "/tmp"
        path = Path(tmp) / f"sample-{ds}-{rows}-{start}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sample(s, catalogue.dataset(ds), path, rows, start)
    lines = path.read_text().splitlines()
    path.unlink()
    return lines


def set_field(line: str, name: str, value: str, ds: str = "census") -> str:
    values = next(csv.reader([line]))
    values[catalogue.dataset(ds).columns.index(name)] = value
    return ",".join(f'"{v}"' if "," in v else v for v in values)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return _write


def run(home: Home, ds: str, *files: Path) -> int:
    return main(["--home", str(home.root), "collect", ds, *map(str, files)])


def loaded_rows(home: Home, table: str = "ds_census") -> int:
    if not home.store_path.exists():
        return 0
    con = duckdb.connect(str(home.store_path), read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
            [table],
        ).fetchone()
        return (
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if exists[0]
            else 0
        )
    finally:
        con.close()


def report_rows(home: Home) -> list[dict[str, str]]:
    reports = sorted(home.reports_dir.glob("collect-*.csv"))
    assert reports, "no CSV error report written"
    with reports[-1].open() as f:
        return list(csv.DictReader(f))


def assert_rejected(
    home: Home, rc: int, line: int, field: str | None, words: str
) -> None:
    """Exit 2, nothing loaded, a report row at ``line``/``field`` naming ``words``."""
    assert rc == 2
    assert loaded_rows(home) == 0
    rows = report_rows(home)
    assert set(rows[0]) == {"file", "line", "field", "severity", "reason"}
    hits = [
        r
        for r in rows
        if r["severity"] == "error"
        and int(r["line"]) == line
        and field in (None, r["field"])
        and words in r["reason"]
    ]
    assert hits, rows[:10]
    with Store(home.store_path, read_only=True) as s:
        assert s.one("SELECT count(*) FROM rejections") == 1
        assert s.one("SELECT count(*) FROM collections") == 0


# -- good files ---------------------------------------------------------------------


def test_valid_file_loads_with_provenance(home: Home, write, capsys) -> None:
    path = write("good.csv", "\n".join(sample_lines(rows=20)) + "\n")
    assert run(home, "census", path) == 0
    assert loaded_rows(home) == 20
    with Store(home.store_path, read_only=True) as s:
        (cid, ds, name, sha, n, w) = s.rows(
            "SELECT collection_id, dataset, file_name, sha256, row_count, "
            "warning_count FROM collections"
        )[0]
        import hashlib

        assert (ds, name, n, w) == ("census", "good.csv", 20, 0)
        assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
        assert s.one("SELECT min(line) FROM ds_census") == 2
        assert s.one("SELECT max(line) FROM ds_census") == 21
        types = dict(
            s.rows(
                "SELECT column_name, data_type FROM "
                "information_schema.columns WHERE table_name='ds_census'"
            )
        )
        assert types["date_of_birth"] == "DATE" and types["upn"] == "VARCHAR"
    assert "loaded 1 file (20 rows" in capsys.readouterr().out


def test_same_file_twice_loads_once(home: Home, write, capsys) -> None:
    path = write("a.csv", "\n".join(sample_lines()) + "\n")
    assert run(home, "census", path) == 0
    copy = write("copy-of-a.csv", path.read_bytes())
    assert run(home, "census", copy) == 0
    assert "already loaded as collection 1" in capsys.readouterr().out
    assert loaded_rows(home) == 5


def test_a_file_name_with_glob_characters_is_read_as_itself(home: Home, write) -> None:
    write("census1.csv", "\n".join(sample_lines(rows=2)) + "\n")  # what a glob hits
    path = write("census[1].csv", "\n".join(sample_lines(rows=4, start=9)) + "\n")
    assert run(home, "census", path) == 0
    assert loaded_rows(home) == 4


def test_bom_and_crlf_are_accepted(home: Home, write) -> None:
    body = "\r\n".join(sample_lines(rows=3)) + "\r\n"
    path = write("bom.csv", b"\xef\xbb\xbf" + body.encode())
    assert run(home, "census", path) == 0
    with Store(home.store_path, read_only=True) as s:
        upns = [r[0] for r in s.rows("SELECT upn FROM ds_census ORDER BY line")]
        lines = [r[0] for r in s.rows("SELECT line FROM ds_census ORDER BY line")]
    assert lines == [2, 3, 4]
    assert all(len(u) == 13 for u in upns)  # no stray \r or BOM


def test_status_json_shows_collections(home: Home, write, capsys) -> None:
    assert run(home, "census", write("a.csv", "\n".join(sample_lines()) + "\n")) == 0
    bad = write("b.csv", "")
    assert run(home, "census", bad) == 2
    capsys.readouterr()
    assert main(["--home", str(home.root), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    census = report["datasets"]["census"]
    assert census["rows"] == 5 and census["rejected"] == 1
    assert census["collections"][0]["file"] == "a.csv"
    assert census["collections"][0]["rows"] == 5
    (rejected,) = report["collection"]["rejections"]
    assert (rejected["file"], rejected["errors"]) == ("b.csv", 1)
    assert Path(rejected["report"]).is_file()


def test_warnings_load_and_are_recorded(home: Home, write) -> None:
    lines = sample_lines(rows=3)
    lines[2] = set_field(lines[2], "uln", "9999999999")
    assert run(home, "census", write("w.csv", "\n".join(lines) + "\n")) == 0
    with Store(home.store_path, read_only=True) as s:
        assert s.rows("SELECT line, field, severity FROM collection_issues") == [
            (3, "uln", "warning")
        ]
        assert s.one("SELECT uln FROM ds_census WHERE line = 3") is None
        assert s.one("SELECT warning_count FROM collections") == 1


def test_unknown_dataset_and_missing_file(home: Home, write, capsys) -> None:
    path = write("a.csv", "\n".join(sample_lines()) + "\n")
    assert run(home, "cencus", path) == 2
    assert "unknown dataset 'cencus'" in capsys.readouterr().err
    assert run(home, "census", path.with_name("nope.csv")) == 2
    assert "nope.csv:0::no" in capsys.readouterr().err.replace("\n", "")
    assert run(home, "pupil", path) == 2  # derived, never collected
    assert loaded_rows(home) == 0


def test_a_store_in_use_is_a_conflict(
    home: Home, write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUPILSHARE_STORE_WAIT", "1")  # a command waits this long
    path = write("a.csv", "\n".join(sample_lines()) + "\n")
    code = (
        "import sys, duckdb, time; c = duckdb.connect(sys.argv[1]); "
        "print('open', flush=True); time.sleep(30)"
    )
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(home.store_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        assert run(home, "census", path) == 5  # Conflict
    finally:
        holder.kill()
        holder.wait()
    assert run(home, "census", path) == 0


# -- bad files: issue 2 item 6 ------------------------------------------------------


def test_empty_file(home: Home, write) -> None:
    assert_rejected(home, run(home, "census", write("e.csv", "")), 0, "", "empty")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda h: [c for c in h if c != "sex"], "sex", "missing"),
        (lambda h: [*h, "shoe_size"], "shoe_size", "unexpected"),
        (lambda h: ["pupil_upn" if c == "upn" else c for c in h], "upn", "renamed"),
    ],
    ids=["missing", "extra", "renamed"],
)
def test_header_columns(home: Home, write, change, field, words) -> None:
    lines = sample_lines()
    lines[0] = ",".join(change(COLS))
    rc = run(home, "census", write("h.csv", "\n".join(lines) + "\n"))
    assert_rejected(home, rc, 1, field, words)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_single_byte_encodings_are_named_not_mangled(home, write, encoding) -> None:
    lines = sample_lines()
    lines[3] = set_field(lines[3], "forename", "Zoë")
    path = write("enc.csv", ("\n".join(lines) + "\n").encode(encoding))
    assert_rejected(home, run(home, "census", path), 4, "", "Windows-1252")


def test_truncated_last_line(home: Home, write) -> None:
    lines = sample_lines()
    text = "\n".join(lines)
    path = write("t.csv", text[: len(text) - len(lines[-1]) // 2])
    assert_rejected(home, run(home, "census", path), 6, None, "too few fields")
    assert len(report_rows(home)) == 1  # one problem for the line, not per column


def test_unclosed_quote(home: Home, write) -> None:
    lines = sample_lines()
    lines[2] = set_field(lines[2], "surname", '"Smith')
    lines[2] = lines[2].replace('""Smith', '"Smith')
    path = write("q.csv", "\n".join(lines) + "\n")
    assert run(home, "census", path) == 2
    assert loaded_rows(home) == 0
    assert any(r["line"] == "3" and "quote" in r["reason"] for r in report_rows(home))


def test_a_100_kb_field(home: Home, write) -> None:
    lines = sample_lines()
    lines[4] = set_field(lines[4], "surname", "A" * 100_000)
    path = write("big.csv", "\n".join(lines) + "\n")
    assert_rejected(home, run(home, "census", path), 5, "surname", "longer than")


def test_binary_garbage(home: Home, write) -> None:
    import random

    rng = random.Random(1)
    junk = bytes(rng.randrange(256) for _ in range(4000))
    assert_rejected(home, run(home, "census", write("x.csv", junk)), 1, "", "binary")


def test_impossible_date(home: Home, write) -> None:
    lines = sample_lines()
    lines[1] = set_field(lines[1], "date_of_birth", "2015-02-31")
    path = write("d.csv", "\n".join(lines) + "\n")
    assert_rejected(home, run(home, "census", path), 2, "date_of_birth", "impossible")


def test_future_date_of_birth(home: Home, write) -> None:
    lines = sample_lines()
    lines[2] = set_field(lines[2], "date_of_birth", "2999-01-01")
    path = write("f.csv", "\n".join(lines) + "\n")
    assert_rejected(home, run(home, "census", path), 3, "date_of_birth", "future")


def test_wrong_upn_check_letter(home: Home, write) -> None:
    lines = sample_lines()
    upn = next(csv.reader([lines[5]]))[COLS.index("upn")]
    wrong = ("B" if upn[0] != "B" else "C") + upn[1:]
    lines[5] = set_field(lines[5], "upn", wrong)
    path = write("u.csv", "\n".join(lines) + "\n")
    assert_rejected(home, run(home, "census", path), 6, "upn", "1510")


def test_same_upn_twice(home: Home, write) -> None:
    lines = sample_lines()
    upn = next(csv.reader([lines[1]]))[COLS.index("upn")]
    lines[4] = set_field(lines[4], "upn", upn)
    path = write("dup.csv", "\n".join(lines) + "\n")
    assert_rejected(home, run(home, "census", path), 5, "upn", "as line 2")
    assert_rejected(home, 2, 2, "upn", "as line 5")


def test_a_file_without_header_does_not_echo_its_first_row(home, write, capsys):
    lines = sample_lines()
    path = write("nohead.csv", "\n".join(lines[1:]) + "\n")
    assert_rejected(home, run(home, "census", path), 1, "", "the header missing")
    first_upn = next(csv.reader([lines[1]]))[COLS.index("upn")]
    err = capsys.readouterr()
    assert first_upn not in err.out + err.err


def test_a_file_of_another_dataset(home: Home, write) -> None:
    path = write("ks.csv", "\n".join(sample_lines("ks_results")) + "\n")
    assert_rejected(home, run(home, "census", path), 1, "", "'ks_results'")


def test_every_problem_is_reported(home: Home, write, capsys) -> None:
    lines = sample_lines(rows=4)
    lines[1] = set_field(lines[1], "sex", "X")
    lines[3] = set_field(lines[3], "ethnicity", "")
    lines[4] = set_field(lines[4], "date_of_birth", "01/02/2015")
    assert run(home, "census", write("m.csv", "\n".join(lines) + "\n")) == 2
    found = {(r["line"], r["field"]) for r in report_rows(home)}
    assert {("2", "sex"), ("4", "ethnicity"), ("5", "date_of_birth")} <= found
    err = capsys.readouterr()
    assert "m.csv:2:sex:" in err.err
    assert "Nabc" not in err.out + err.err  # no pupil values on screen
