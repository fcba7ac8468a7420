"""``link`` on DuckDB and on Spark: the same two files give the same model and the
same pairs, with the same match probabilities.

The files carry every error class the link model has a level for (typos and
transpositions, nicknames, swapped names, part of a double-barrelled surname, day
and month swapped, month 13, another date format, postcodes mistyped, cut to the
outward code or foreign, sex mostly empty), so every translated condition decides
pairs. u is estimated from a sample of the records (``U_PAIRS`` lowered so these
small files are sampled, as files of over a thousand records are), which must be
the same records on both engines.

The parameters and probabilities are compared to a relative 1e-9 and 1e-12, not
exactly: EM sums a double over the pairs, and Spark adds its partitions' partial
sums in another order than DuckDB, so the last bits differ (seen: one probability
of 201 differing by 4.4e-16). The pairs and the file written (probabilities to six
places) are the same.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from pupilshare.engine.linkage import SparkLinkage
from pupilshare.match import link_files, linkmodel
from pupilshare.synth.labelled_records import FORENAMES, SURNAMES

pytestmark = pytest.mark.spark

NICKNAMES = {"WILLIAM": "BILL", "ELIZABETH": "BETH", "ROBERT": "BOB", "JAMES": "JIM"}


def _typo(s: str, rng: random.Random) -> str:
    i = rng.randrange(len(s))
    if rng.random() < 0.5 and len(s) > 1:  # adjacent letters transposed
        i = min(i, len(s) - 2)
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    return s[:i] + rng.choice("AEINRST") + s[i + 1 :]


def _person(rng: random.Random) -> dict[str, str]:
    forename = rng.choice([*FORENAMES, *NICKNAMES])
    surname = rng.choice(SURNAMES)
    if rng.random() < 0.1:
        surname = f"{surname}-{rng.choice(SURNAMES)}"
    return {
        "forename": forename,
        "surname": surname,
        "dob": f"{rng.randint(2006, 2019)}-{rng.randint(1, 12):02d}-"
        f"{rng.randint(1, 28):02d}",
        "sex": rng.choice("MF"),
        "postcode": f"LS{rng.randint(1, 9)} {rng.randint(1, 9)}"
        f"{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}",
    }


def _corrupted(p: dict[str, str], rng: random.Random) -> dict[str, str]:
    q = dict(p)
    fault = rng.randrange(12)
    y, m, d = q["dob"].split("-")
    if fault == 0:
        q["forename"] = _typo(q["forename"], rng)
    elif fault == 1:
        q["surname"] = _typo(q["surname"], rng)
    elif fault == 2:
        q["forename"] = NICKNAMES.get(q["forename"], q["forename"][:3])
    elif fault == 3:
        q["forename"], q["surname"] = q["surname"], q["forename"]
    elif fault == 4:
        q["surname"] = q["surname"].split("-")[-1]
    elif fault == 5:
        q["dob"] = f"{y}-{d}-{m}"
    elif fault == 6:
        q["dob"] = f"{y}-13-{d}"
    elif fault == 7:
        q["dob"] = f"{d}/{m}/{y}"
    elif fault == 8:
        q["dob"] = _typo(q["dob"].replace("-", ""), rng)
    elif fault == 9:
        q["postcode"] = q["postcode"].split()[0]
    elif fault == 10:
        q["postcode"] = rng.choice(["75008", "D02 X285", "1012 AB"])
    q["sex"] = q["sex"] if rng.random() < 0.4 else ""
    return q


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_link_gives_the_same_pairs_on_duckdb_and_spark(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(16)
    people = [_person(rng) for _ in range(360)]
    left = _write(
        tmp_path / "left.csv",
        [{"id": f"L{i}", **p} for i, p in enumerate(people[:300])],
    )
    right = _write(
        tmp_path / "right.csv",
        [{"id": f"R{i}", **_corrupted(p, rng)} for i, p in enumerate(people[100:])],
    )
    # sampled for u, as files of over about a thousand records each are
    monkeypatch.setattr(linkmodel, "U_PAIRS", 2e4)
    models: dict[str, dict] = {}
    scored: dict[str, list[tuple]] = {}
    real_predict = linkmodel.LinkModel.predict

    def kept(self, threshold):  # type: ignore[no-untyped-def]
        pairs = real_predict(self, threshold)
        models[self.backend.dialect] = self.linker.misc.save_model_to_json()
        scored[self.backend.dialect] = sorted(
            zip(
                pairs["unique_id_l"].to_pylist(),
                pairs["unique_id_r"].to_pylist(),
                pairs["match_probability"].to_pylist(),
                strict=True,
            )
        )
        return pairs

    monkeypatch.setattr(linkmodel.LinkModel, "predict", kept)
    on_spark: list[str] = []
    real_table = SparkLinkage.table

    def counted(self, data, name):  # type: ignore[no-untyped-def]
        on_spark.append(name)
        return real_table(self, data, name)

    monkeypatch.setattr(SparkLinkage, "table", counted)
    out, explained = {}, {}
    for engine in ("duckdb", "spark"):
        out[engine] = tmp_path / f"{engine}.csv"
        r = link_files(
            left,
            right,
            out[engine],
            threshold=0.5,
            explain=("L150", "R50"),  # the same person
            engine_name=engine,
        )
        assert r.fitted and r.pairs > 200
        explained[engine] = r.explanation
    assert on_spark, "Splink did not run on Spark"
    # the same model: u from the same sample, m by EM over the same pairs
    duck, spk = models["duckdb"], models["spark"]
    assert spk["probability_two_random_records_match"] == pytest.approx(
        duck["probability_two_random_records_match"], rel=1e-12
    )
    for a, b in zip(duck["comparisons"], spk["comparisons"], strict=True):
        for la, lb in zip(a["comparison_levels"], b["comparison_levels"], strict=True):
            for p in ("m_probability", "u_probability"):
                want = la.get(p)
                assert lb.get(p) == (
                    want if want is None else pytest.approx(want, rel=1e-9, abs=1e-15)
                ), f"{a['output_column_name']} {la['label_for_charts']} {p}"
    # the same pairs, with the same probabilities, and the same file
    assert [s[:2] for s in scored["duckdb"]] == [s[:2] for s in scored["spark"]]
    for d, s in zip(scored["duckdb"], scored["spark"], strict=True):
        assert s[2] == pytest.approx(d[2], rel=1e-12, abs=1e-15), d[:2]
    assert out["duckdb"].read_bytes() == out["spark"].read_bytes()
    # one pair's score explained alike: the same levels, the same weights
    duck_e, spark_e = explained["duckdb"], explained["spark"]
    assert [(s["comparison"], s["level"]) for s in duck_e["steps"]] == [
        (s["comparison"], s["level"]) for s in spark_e["steps"]
    ]
    assert spark_e["match_weight"] == pytest.approx(duck_e["match_weight"], rel=1e-9)
    assert spark_e["found_by_blocking"] == duck_e["found_by_blocking"]
