"""The match, review and link commands through ``pupilshare.cli.main``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.match.sample import generate
from pupilshare.status import store_status
from pupilshare.store import Store


def test_match_report_review_and_status(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(home) as store:
        generate(store, 400, seed=6, nation=home.root / "nation")
    args = ["--home", str(home.root)]
    code = main([*args, "match", "--report", "--reference-date", "2025-06-01"])
    out = capsys.readouterr().out
    assert code == 0
    assert "match run 1" in out and "F1" in out and "precision" in out
    assert main([*args, "review", "list"]) == 0
    assert "review queue" in capsys.readouterr().out
    assert main([*args, "review", "show", "12345"]) == 4  # NotFound
    assert main([*args, "match", "--reference-date", "June"]) == 2
    report = store_status(home)
    assert report["match"]["pupils"] > 350 and report["match"]["runs"] == 1


def test_link_command_writes_pairs(tmp_path: Path) -> None:
    rows = "id,forename,surname,dob,sex,postcode\n1,Ann,Lee,2010-01-02,F,LS1 1AA\n"
    (tmp_path / "a.csv").write_text(rows)
    (tmp_path / "b.csv").write_text(rows)
    out = tmp_path / "p.csv"
    code = main(
        [
            "link",
            str(tmp_path / "a.csv"),
            str(tmp_path / "b.csv"),
            "--out",
            str(out),
            "--threshold",
            "0.5",
        ]
    )
    assert code == 0
    assert out.read_text().splitlines()[0] == "left_id,right_id,match_probability"
