"""The nation's files: layout, determinism, catalogue rules, truth, faulty files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from pupilshare import catalogue
from pupilshare.errors import InvalidInput
from pupilshare.synth import DATASETS, synthesise

from .conftest import PUPILS, SEED
from .rules import problems


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_the_same_bytes(nation: Path, tmp_path: Path) -> None:
    synthesise(tmp_path / "again", PUPILS, SEED)
    assert _digest(tmp_path / "again") == _digest(nation)


def test_another_seed_gives_another_nation(nation: Path, tmp_path: Path) -> None:
    synthesise(tmp_path / "other", PUPILS, SEED + 1)
    other = _digest(tmp_path / "other")
    assert other["truth.csv"] != _digest(nation)["truth.csv"]


def test_layout_matches_the_contract(nation: Path, manifest: dict) -> None:
    assert manifest["seed"] == SEED and manifest["pupils"] == PUPILS
    for ds in DATASETS:
        assert manifest["datasets"][ds]["files"] > 0, ds
    listed = {f["file"] for f in manifest["files"]}
    on_disk = {
        str(p.relative_to(nation))
        for ds in DATASETS
        for p in (nation / ds).glob("*.csv")
    }
    assert listed == on_disk
    assert set(manifest["faulty"]) <= listed
    for ref in ("postcodes", "schools"):
        header = (nation / "reference" / f"{ref}.csv").read_text().splitlines()[0]
        assert header.split(",") == catalogue.dataset(ref).columns


def test_headers_are_the_catalogue_columns_in_order(nation: Path) -> None:
    for ds in DATASETS:
        for path in (nation / ds).glob("*.csv"):
            with path.open(encoding="utf-8") as fh:
                assert (
                    fh.readline().rstrip("\n").split(",")
                    == catalogue.dataset(ds).columns
                ), path


def test_census_has_several_years_terms_schools_and_las(manifest: dict) -> None:
    census = [f["file"] for f in manifest["files"] if f["dataset"] == "census"]
    terms = {tuple(Path(f).stem.split("_")[1:3]) for f in census}
    schools = {Path(f).stem.split("_")[3] for f in census}
    assert len(terms) == 12  # 4 academic years x 3 terms
    assert len(schools) >= 6 and len({s[:3] for s in schools}) >= 3


@pytest.mark.parametrize("ds", list(DATASETS))
def test_normal_files_pass_every_catalogue_rule(
    nation: Path, manifest: dict, ds: str
) -> None:
    files = [
        f["file"]
        for f in manifest["files"]
        if f["dataset"] == ds and f["file"] not in manifest["faulty"]
    ]
    assert files
    assert problems(nation, ds, files) == []


def test_reference_files_pass_their_rules(nation: Path) -> None:
    for ref in ("postcodes", "schools"):
        assert problems(nation, ref, [f"reference/{ref}.csv"]) == []


def test_faulty_files_break_the_rule_they_are_listed_for(
    nation: Path, manifest: dict
) -> None:
    kinds = {
        "duplicate": "duplicate",
        "check letter": "check letter",
        "31 February": "not a date",
    }
    assert any("duplicate" in why for why in manifest["faults"].values())
    assert any("check letter" in why for why in manifest["faults"].values())
    assert any("31 February" in why for why in manifest["faults"].values())
    for rel, why in manifest["faults"].items():
        found = problems(nation, rel.split("/")[0], [rel])
        (want,) = [v for k, v in kinds.items() if k in why]
        assert any(want in reason for *_, reason in found), (rel, found)


def test_truth_names_a_person_for_every_data_row(
    nation: Path, manifest: dict, con: duckdb.DuckDBPyConnection
) -> None:
    for ds in DATASETS:
        missing = con.execute(f"SELECT count(*) FROM {ds} WHERE person_id IS NULL")
        assert missing.fetchall()[0][0] == 0, ds
    total = sum(f["rows"] for f in manifest["files"])
    truth = con.execute("SELECT count(*), count(DISTINCT (file, line)) FROM truth")
    assert truth.fetchall()[0] == (total, total)
    assert manifest["truth"]["rows"] == total


def test_truth_is_consistent_with_identifiers(con: duckdb.DuckDBPyConnection) -> None:
    # A UPN always belongs to one person, and a person keeps one sex.
    (clash,) = con.execute("""
        SELECT count(*) FROM (SELECT upn FROM census GROUP BY upn
                              HAVING count(DISTINCT person_id) > 1)""").fetchall()[0]
    assert clash == 0
    (sexes,) = con.execute("""
        SELECT max(n) FROM (SELECT count(DISTINCT sex) n FROM census
                            GROUP BY person_id)""").fetchall()[0]
    assert sexes == 1


def test_refuses_to_write_over_a_directory_that_is_not_a_nation(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InvalidInput, match="not empty"):
        synthesise(tmp_path, 100, 1)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_too_few_pupils_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least 50"):
        synthesise(tmp_path / "n", 10, 1)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"first_year": 2100}, "has not ended"),
        ({"years": 0}, "1 to 10"),
        ({"school_size": 5000}, "school size"),
    ],
)
def test_impossible_nations_are_refused(
    tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        synthesise(tmp_path / "n", 100, 1, **options)
    assert not (tmp_path / "n").exists()
