"""Survey samples end to end from the command line, over a copy of the demo's home:
contact details only, only parents who agreed and did not opt out, the same seed
the same sample, every draw in the ledger; and responses back through ``collect``,
matched to the index like any dataset."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from tests.conftest import copy_home

from pupilshare import catalogue
from pupilshare.cli import main
from pupilshare.config import Home

AGREEMENT = "fieldwork-survey-sample"
CONTACT = {"parent_name", "address_line", "postcode", "parent_email"}


@pytest.fixture
def home(demo_run, tmp_path: Path) -> Home:  # type: ignore[no-untyped-def]
    return copy_home(demo_run.home, tmp_path / "home")


def _run(home: Home, *args: str) -> int:
    return main(["--home", str(home.root), *args])


def _draw(home: Home, out: Path, seed: int = 5, size: int = 40) -> list[dict]:
    code = _run(
        home,
        "survey",
        "sample",
        AGREEMENT,
        "--size",
        str(size),
        "--strata",
        "region,school_type,fsm",
        "--seed",
        str(seed),
        "--out",
        str(out),
    )
    assert code == 0
    with (out / "sample.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _rows(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home.store_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_a_sample_is_contacts_only_reproducible_and_in_the_ledger(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _draw(home, tmp_path / "a")
    b = _draw(home, tmp_path / "b")
    assert len(a) == 40 and a == b  # the same seed draws the same parents
    assert _draw(home, tmp_path / "c", seed=6) != a
    # contact details and the consent they were drawn on: nothing about the pupil
    assert set(a[0]) <= CONTACT | {"contact_consent"} and CONTACT <= set(a[0])
    assert {r["contact_consent"] for r in a} == {"Y"}
    assert not {"fsm", "region", "school_type", "upn", "forename"} & set(a[0])
    entries = [
        json.loads(leaf)
        for (leaf,) in _rows(
            home,
            "SELECT leaf FROM ledger_entries WHERE kind = 'survey_sample' "
            "ORDER BY entry_index",
        )
    ]
    # the demo's own draw, then these three, each with its seed and strata counts
    assert [e["sample"]["seed"] for e in entries[-3:]] == [5, 5, 6]
    assert all(e["row_count"] == 40 for e in entries[-3:])
    assert sum(entries[-1]["sample"]["drawn"].values()) == 40
    assert all(e["pupils"]["count"] == 40 for e in entries[-3:])
    capsys.readouterr()
    assert _run(home, "ledger", "verify") == 0


def test_a_survey_opt_out_leaves_the_sample_and_a_whole_release_is_refused(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _draw(home, tmp_path / "a")
    name = first[0]["parent_name"].lstrip("'")
    fore, sur, dob, upn = _rows(
        home,
        "SELECT p.forename, p.surname, p.date_of_birth, p.upn "
        "FROM ds_survey_contacts d JOIN pupil_links l ON l.dataset = "
        "'survey_contacts' AND l.collection_id = d.collection_id AND l.line = d.line "
        "JOIN pupils p ON p.pupil_key = l.pupil_key WHERE d.parent_name = ? LIMIT 1",
        [name],
    )[0]
    assert (
        _run(
            home,
            "optouts",
            "add",
            "--type",
            "survey",
            "--forename",
            fore,
            "--surname",
            sur,
            "--dob",
            dob.isoformat(),
            *(["--upn", upn] if upn else []),
            "--requester",
            "parent",
            "--requester-name",
            name,
            "--identity-check",
            "letter from the school",
        )
        == 0
    )
    again = _draw(home, tmp_path / "b")
    assert name not in {r["parent_name"].lstrip("'") for r in again}
    assert len(again) == 40
    capsys.readouterr()
    assert _run(home, "release", AGREEMENT, "--out", str(tmp_path / "whole")) != 0
    assert "only as a sample" in capsys.readouterr().err
    assert not (tmp_path / "whole").exists()


def test_responses_come_back_and_match_to_the_index(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = _rows(
        home,
        "SELECT upn, forename, surname, date_of_birth, sex FROM pupils "
        "WHERE upn IS NOT NULL ORDER BY pupil_key LIMIT 3",
    )
    cols = catalogue.dataset("survey_responses").columns
    path = tmp_path / "responses.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for upn, fore, sur, dob, sex in people:
            row = {
                "survey_id": "PARENTS-2026",
                "response_date": "2026-01-10",
                "upn": upn,
                "forename": fore,
                "surname": sur,
                "date_of_birth": dob.isoformat(),
                "sex": sex,
                "postcode": "",
                "question": "Q1",
                "answer": "Agree",
            }
            w.writerow({c: row.get(c, "") for c in cols})
    assert _run(home, "collect", "survey_responses", str(path)) == 0
    assert _run(home, "match") == 0
    linked = _rows(
        home,
        "SELECT p.upn FROM pupil_links l JOIN pupils p USING (pupil_key) "
        "WHERE l.dataset = 'survey_responses' ORDER BY 1",
    )
    assert [r[0] for r in linked] == sorted(p[0] for p in people)
