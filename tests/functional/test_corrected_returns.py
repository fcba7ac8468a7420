"""Corrected returns and withdrawals (issue 11 point 2), through the commands.

A school's census return sent again (same school and census day, names corrected, a
pupil removed) replaces the first as a new version: the current data, matching and
later releases see only the new rows, the old ones are kept in history, and what a
release delivered from the old version stays recorded.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pupilshare import catalogue
from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.plan import ReleasePlan
from pupilshare.release import population
from pupilshare.release.build import build_release
from pupilshare.store import Store
from pupilshare.synth.valid_returns import sample_sql

# Releases of the test's own plans (no agreement behind them).
pytestmark = pytest.mark.own_plan

CENSUS = catalogue.dataset("census")
PLAN = ReleasePlan(
    "LA-1",
    "LA",
    "SI 2009/1563",
    "own pupils",
    "identified",
    ("census.upn", "census.forename", "census.census_date"),
)


def one_school(rows: int) -> list[dict[str, str]]:
    """Valid census rows, all of one school (one return)."""
    with Store() as s:
        out = s.arrow(sample_sql(CENSUS, rows)).to_pylist()
    school = out[0]["laestab"]
    return [{**r, "laestab": school} for r in out]


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CENSUS.columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue())
    return path


def cli(home: Home, *args: str) -> int:
    return main(["--home", str(home.root), *args])


def release(home: Home, out: Path) -> dict[str, str]:
    with Store.open(home) as store:
        population.ensure_opt_outs(store)
        m = build_release(store, home, PLAN, out)
    t = pq.read_table(Path(m.out_dir) / "census.parquet").to_pydict()
    assert len(t["upn"]) == len(set(t["upn"])), "a pupil twice in one census"
    return dict(zip(t["upn"], t["forename"], strict=True))


@pytest.fixture
def first(home: Home, tmp_path: Path) -> list[dict[str, str]]:
    rows = one_school(6)
    assert cli(home, "collect", "census", str(write(tmp_path / "v1.csv", rows))) == 0
    assert cli(home, "match", "--reference-date", "2025-06-01") == 0
    return rows


def test_a_corrected_return_replaces_the_first(
    home: Home, tmp_path: Path, first: list[dict[str, str]]
) -> None:
    before = release(home, tmp_path / "r1")
    assert before == {r["upn"]: r["forename"] for r in first}
    fixed = [dict(r) for r in first[:5]]  # one pupil left the roll
    fixed[0]["forename"] = "Corrected"
    assert cli(home, "collect", "census", str(write(tmp_path / "v2.csv", fixed))) == 0
    assert cli(home, "match", "--reference-date", "2025-06-01") == 0
    after = release(home, tmp_path / "r2")
    assert after == {r["upn"]: r["forename"] for r in fixed}
    with Store.open(home, read_only=True) as s:
        assert s.one("SELECT count(*) FROM ds_census") == 5
        assert s.rows("SELECT DISTINCT collection_id FROM ds_census") == [(2,)]
        assert s.one("SELECT count(*) FROM history_census") == 6
        versions = s.rows(
            "SELECT collection_id, status, replaced_by FROM returns ORDER BY 1"
        )
        assert versions == [(1, "replaced", 2), (2, "current", None)]
        # every current record is matched, and only once
        assert (
            s.one(
                "SELECT count(*) FROM ds_census d JOIN pupil_links l ON "
                "l.dataset = 'census' AND l.collection_id = d.collection_id "
                "AND l.line = d.line"
            )
            == 5
        )
        # what the first release delivered, from version 1, stays recorded
        sources = s.rows(
            "SELECT r.release_id, s.collection_id FROM releases r "
            "JOIN release_sources s USING (release_id) "
            # r1 then r2: created_at has whole seconds and ids end in random hex
            "ORDER BY r.out_dir"
        )
        assert [c for _, c in sources] == [1, 2]


def test_another_school_or_census_day_is_another_return(
    home: Home, tmp_path: Path, first: list[dict[str, str]]
) -> None:
    spring = [{**r, "census_date": "2025-01-16"} for r in first]
    assert cli(home, "collect", "census", str(write(tmp_path / "s.csv", spring))) == 0
    with Store.open(home, read_only=True) as s:
        assert s.one("SELECT count(*) FROM ds_census") == 12
        assert s.one("SELECT count(*) FROM returns WHERE status = 'current'") == 2


def test_withdraw_takes_a_return_out_of_current_data(
    home: Home, tmp_path: Path, first: list[dict[str, str]], capsys
) -> None:
    assert cli(home, "collect", "--withdraw", "1") == 2  # a reason is required
    assert cli(home, "collect", "--withdraw", "9", "--reason", "x") == 4
    assert cli(home, "collect", "--withdraw", "1", "--reason", "wrong school") == 0
    assert "6 rows moved to history" in capsys.readouterr().out
    with Store.open(home, read_only=True) as s:
        assert s.one("SELECT count(*) FROM ds_census") == 0
        assert s.rows("SELECT status, reason FROM returns") == [
            ("withdrawn", "wrong school")
        ]
        assert s.one("SELECT count(*) FROM history_census") == 6
    assert cli(home, "collect", "--withdraw", "1", "--reason", "again") == 5
    capsys.readouterr()
    assert cli(home, "status", "--json") == 0
    shown = json.loads(capsys.readouterr().out)["collection"]
    assert shown["returns"]["census"] == {"withdrawn": {"returns": 1, "rows": 6}}
    assert shown["withdrawn"][0]["reason"] == "wrong school"
    with Store.open(home) as store:
        population.ensure_opt_outs(store)
        m = build_release(store, home, PLAN, tmp_path / "r")
    assert pq.read_table(Path(m.out_dir) / "census.parquet").num_rows == 0


def test_collect_without_files_says_what_to_give(home: Home, capsys) -> None:
    assert cli(home, "collect") == 2
    assert "--withdraw COLLECTION_ID" in capsys.readouterr().err.replace("\n", "")
