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
    n = link_files(
        _write(tmp_path / "l.csv", left),
        _write(tmp_path / "r.csv", right),
        out,
        threshold=0.9,
    )
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert n == len(rows)
    assert set(rows[0]) == {"left_id", "right_id", "match_probability"}
    got = {(r["left_id"], r["right_id"]) for r in rows}
    precision = len(got & truth) / len(got)
    recall = len(got & truth) / len(truth)
    assert precision >= 0.97 and recall >= 0.95
    assert all(0.9 <= float(r["match_probability"]) <= 1 for r in rows)


def test_link_names_missing_columns(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", [{"id": "1", "forename": "A"}])
    with pytest.raises(InvalidInput, match="lacks columns"):
        link_files(bad, bad, tmp_path / "o.csv")
