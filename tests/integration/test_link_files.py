"""``link``: two labelled files of people in, scored pairs out."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from pupilshare.errors import InvalidInput
from pupilshare.match import link_files
from pupilshare.synth.labelled_records import FORENAMES, SURNAMES


def _people(n: int, rng: random.Random) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"P{i}",
                "forename": rng.choice(FORENAMES),
                "surname": rng.choice(SURNAMES),
                "dob": f"{rng.randint(2006, 2019)}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d}",
                "sex": rng.choice("MF"),
                "postcode": f"LS{rng.randint(1, 9)} {rng.randint(1, 9)}"
                f"{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}",
            }
        )
    return out


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_link_scores_a_labelled_pair_of_files(tmp_path: Path) -> None:
    rng = random.Random(4)
    people = _people(600, rng)
    left = [{**p, "id": f"L{i}"} for i, p in enumerate(people[:500])]
    right = []
    for i, p in enumerate(people[100:]):  # 400 shared with left, 100 not
        q = {**p, "id": f"R{i}"}
        if rng.random() < 0.2:  # a typo in the surname
            s = q["surname"]
            q["surname"] = s[:2] + s[3:] if len(s) > 3 else s
        if rng.random() < 0.1:  # moved house
            q["postcode"] = "BD1 1AA"
        right.append(q)
    truth = {(f"L{i + 100}", f"R{i}") for i in range(400)}
    out = tmp_path / "pairs.csv"
    result = link_files(
        _write(tmp_path / "l.csv", left),
        _write(tmp_path / "r.csv", right),
        out,
        threshold=0.9,
    )
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert result.fitted and result.pairs == len(rows)
    assert result.used == ["forename", "surname", "dob", "postcode", "sex"]
    assert set(rows[0]) == {"left_id", "right_id", "match_probability"}
    got = {(r["left_id"], r["right_id"]) for r in rows}
    precision = len(got & truth) / len(got)
    recall = len(got & truth) / len(truth)
    assert precision >= 0.97 and recall >= 0.95
    assert all(0.9 <= float(r["match_probability"]) <= 1 for r in rows)


def _files(tmp_path: Path, n: int = 300, seed: int = 5) -> tuple[Path, Path, list]:
    people = _people(n, random.Random(seed))
    left = [{**p, "id": f"L{i}"} for i, p in enumerate(people)]
    right = [{**p, "id": f"R{i}"} for i, p in enumerate(people)]
    return _write(tmp_path / "l.csv", left), _write(tmp_path / "r.csv", right), right


@pytest.mark.parametrize(
    ("fault", "message", "errors"),
    [
        # a required column missing
        (
            lambda rows: [{k: v for k, v in r.items() if k != "dob"} for r in rows],
            "lacks required columns: dob",
            [":1:dob:required column missing"],
        ),
        # an id used twice (lines count the header as line 1)
        (
            lambda rows: [*rows[:5], {**rows[5], "id": rows[2]["id"]}, *rows[6:]],
            "ids must be present and unique",
            [":7:id:id used on line 4 too"],
        ),
        # an id missing
        (
            lambda rows: [{**rows[0], "id": ""}, *rows[1:]],
            "ids must be present and unique",
            [":2:id:id missing"],
        ),
    ],
)
def test_bad_input_names_the_file_and_fault_and_writes_nothing(
    tmp_path: Path, fault, message: str, errors: list[str]
) -> None:
    left, _, right = _files(tmp_path)
    bad = _write(tmp_path / "bad.csv", fault(right))
    out = tmp_path / "out.csv"
    out.write_text("earlier output\n")
    with pytest.raises(InvalidInput, match=message) as e:
        link_files(left, bad, out)
    assert str(bad) in e.value.message
    assert [x.removeprefix(str(bad)) for x in e.value.errors] == errors
    assert out.read_text() == "earlier output\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.csv",
        "l.csv",
        "out.csv",
        "r.csv",
    ]


def test_a_file_not_in_utf8_is_refused_by_name_and_line(tmp_path: Path) -> None:
    left, _, _ = _files(tmp_path)
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(
        "id,forename,surname,dob\n1,Zoë,Brontë,2010-01-02\n".encode("latin-1")
    )
    out = tmp_path / "out.csv"
    with pytest.raises(InvalidInput, match="not UTF-8") as e:
        link_files(left, bad, out)
    assert e.value.message.startswith(f"{bad}:2:")
    assert not out.exists()


def test_invalid_dates_are_compared_as_typed_and_empty_sex_ignored(
    tmp_path: Path,
) -> None:
    # The right file keys some birth months as 13 (not a date) and carries no sex:
    # those records still link on the date as typed, and sex is ignored with why.
    people = _people(400, random.Random(8))
    left = [{**p, "id": f"L{i}"} for i, p in enumerate(people)]
    right = []
    for i, p in enumerate(people):
        q = {**p, "id": f"R{i}", "sex": ""}
        if i % 10 == 0:
            q["dob"] = q["dob"][:5] + "13" + q["dob"][7:]
        right.append(q)
    out = tmp_path / "pairs.csv"
    r = link_files(
        _write(tmp_path / "l.csv", left), _write(tmp_path / "r.csv", right), out
    )
    assert "sex" in r.ignored and "filled in 0%" in r.ignored["sex"]
    with out.open() as f:
        got = {(row["left_id"], row["right_id"]) for row in csv.DictReader(f)}
    month13 = {(f"L{i}", f"R{i}") for i in range(0, 400, 10)}
    assert len(got & month13) >= 0.9 * len(month13)


def test_explain_builds_the_score_and_charts_are_drawn(tmp_path: Path) -> None:
    left, right, _ = _files(tmp_path)
    r = link_files(
        left,
        right,
        tmp_path / "p.csv",
        charts=tmp_path / "charts",
        explain=("L3", "R3"),
    )
    e = r.explanation
    assert [s["comparison"] for s in e["steps"]] == [
        "forename",
        "surname",
        "date_of_birth",
        "postcode",
        "sex",
    ]
    assert all(s["level"] == "exact" for s in e["steps"])
    total = e["prior_weight"] + sum(s["weight"] + s["tf_weight"] for s in e["steps"])
    assert total == pytest.approx(e["match_weight"], abs=1e-6)
    names = sorted(p.name for p in r.charts)
    assert names == ["m-u-parameters.png", "match-model.html", "match-weights.png"]
    assert all(p.stat().st_size > 1000 for p in r.charts)
    with pytest.raises(InvalidInput, match="no record with id 'nobody'"):
        link_files(left, right, tmp_path / "q.csv", explain=("nobody", "R3"))
