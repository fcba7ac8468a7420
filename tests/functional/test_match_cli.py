"""The match, review and link commands through ``pupilshare.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.match.model import DEFAULT_MODEL
from pupilshare.status import store_status
from pupilshare.store import Store
from pupilshare.synth.labelled_records import generate


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


def test_match_charts_show_every_comparison_of_the_model(
    home: Home, tmp_path: Path
) -> None:
    # A home without a trained model charts the shipped one: PNGs and one page that
    # needs no network, carrying every comparison the model scores on.
    out = tmp_path / "charts"
    assert main(["--home", str(home.root), "match", "--charts", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"match-model.html", "match-weights.png", "m-u-parameters.png"}
    for png in ("match-weights.png", "m-u-parameters.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "match-model.html").read_text()
    assert page.count("<svg") == 2
    assert "<script src" not in page and "cdn." not in page
    model = json.loads(DEFAULT_MODEL.read_text())
    comparisons = {c["output_column_name"] for c in model["comparisons"]}
    specs = [
        json.loads(s.split(">", 1)[1].split("</script>")[0].replace("<\\/", "</"))
        for s in page.split('<script type="application/json"')[1:]
    ]
    for spec in specs:
        charted = {r["comparison_name"] for r in spec["data"]["values"]}
        assert comparisons <= charted
    # the match weights chart draws each level's weight as log2(m/u)
    level = next(
        r
        for r in specs[0]["data"]["values"]
        if r["comparison_name"] == "date_of_birth" and r["label_for_charts"] == "exact"
    )
    assert level["log2_bayes_factor"] > 0


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
    header = out.read_text().splitlines()[0].replace('"', "")  # text quoted: csvsafe
    assert header == "left_id,right_id,match_probability"


def test_link_says_what_it_used_explains_a_pair_and_refuses_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["id,forename,surname,dob,sex,postcode,school"]
    rows += [
        f"{i},Ann{chr(65 + i % 26)},Lee{i},2010-01-{1 + i % 28:02d},,LS1 {i % 9}AA,x"
        for i in range(60)
    ]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "b.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "p.csv"
    a, b = str(tmp_path / "a.csv"), str(tmp_path / "b.csv")
    args = ["link", a, b, "--out", str(out)]
    assert main([*args, "--explain", "3", "3"]) == 0
    text = capsys.readouterr().out
    assert "compared: forename, surname, dob, postcode" in text
    assert "ignored: sex (filled in 0% of the left file" in text
    assert "ignored: school (not a person field" in text
    assert "match weight +" in text and "match probability 0.9" in text
    (tmp_path / "b.csv").write_text(
        "id,forename,surname,dob\n1,A,B,2010-01-01\n1,C,D,2011-01-01\n"
    )
    out.unlink()
    assert main(args) == 2  # InvalidInput
    err = capsys.readouterr()
    assert "b.csv" in err.out + err.err and "unique" in err.out + err.err
    assert not out.exists()
