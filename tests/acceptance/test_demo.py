"""One whole synthetic nation through the demo: every step, checked from the outside.

This is the main job as a user runs it, on a small nation; each assertion reads what
a step left behind (store, releases, register), not the step's own summary.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from pupilshare import catalogue
from pupilshare.demo import STEPS, DemoRun

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> DemoRun:
    """The session's demo (``tests/conftest.py``), shared with the web tests."""
    return demo_run


def _store(run: DemoRun) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run.home.store_path), read_only=True)


def test_every_step_ran_in_order(demo: DemoRun) -> None:
    assert [t for t, _ in STEPS] == [
        "synthesise",
        "collect",
        "match",
        "agreements",
        "opt-outs",
        "release",
        "survey",
        "register",
        "learners",
        "access",
        "ledger",
    ]
    assert demo.facts["collect"]["rejected"] >= 1  # faulty files are rejected
    assert demo.facts["collect"]["loaded"] > 50


def test_every_collected_record_is_linked_to_exactly_one_pupil(demo: DemoRun) -> None:
    con = _store(demo)
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    for ds in catalogue.pupil_datasets():
        if ds.name == "pupil":
            continue
        if ds.name == "survey_responses" and ds.table not in tables:
            continue  # returned by the survey contractor after a survey: none yet
        rows = con.execute(f"SELECT count(*) FROM {ds.table}").fetchone()[0]
        links = con.execute(
            "SELECT count(*), count(DISTINCT (collection_id, line)) FROM pupil_links "
            "WHERE dataset = ?",
            [ds.name],
        ).fetchone()
        unusable = con.execute(
            "SELECT count(*) FROM match_unusable WHERE dataset = ?", [ds.name]
        ).fetchone()[0]
        assert links[0] == links[1], f"{ds.name}: a record links to two pupils"
        assert links[0] + unusable == rows, ds.name


def test_matching_meets_its_accuracy_goal(demo: DemoRun) -> None:
    acc = demo.facts["match"]["accuracy"]
    assert acc["f1"] >= 0.995
    assert demo.facts["match"]["review"] < 0.01 * demo.facts["match"]["records"]


def test_every_seed_agreement_is_active_and_released(demo: DemoRun) -> None:
    active = set(demo.facts["agreements"])
    assert len(active) >= 12
    delivered = {d.split(" ")[0] for d in demo.facts["releases"]}
    # survey contacts leave only as a sample, which the demo draws after releasing
    sampled = {"fieldwork-survey-sample"} if demo.facts.get("survey_sample") else set()
    assert active <= delivered | sampled and not delivered & sampled


def test_every_record_level_release_holds_records(demo: DemoRun) -> None:
    """A seed agreement whose population finds nobody in the synthetic nation (a
    college's DfE number the nation does not have) would deliver empty files and
    show nothing of its kind of share: every record-level release has rows."""
    import pyarrow.parquet as pq

    empty = []
    for manifest_path in demo.home.releases_dir.glob("*/manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        if manifest["level"] == "aggregate":
            continue
        rows = sum(
            pq.read_metadata(manifest_path.parent / f["name"]).num_rows
            for f in manifest["files"]
            if f["name"].endswith(".parquet")
        )
        if not rows:
            empty.append(manifest["agreement_id"])
    assert not empty, empty


def test_nothing_leaves_without_a_live_agreement(demo: DemoRun) -> None:
    """Every delivery, the department's own published statistics too, is made under
    an active agreement that the public register lists."""
    active = set(demo.facts["agreements"])
    released = {
        json.loads(p.read_text())["agreement_id"]
        for p in demo.home.releases_dir.glob("*/manifest.json")
    }
    assert "dfe-ks-trends" in released and released <= active
    register = (demo.home.root / "register" / "register.csv").read_text()
    assert all(a in register for a in released)


def test_every_release_matches_its_manifest(demo: DemoRun) -> None:
    for manifest_path in demo.home.releases_dir.glob("*/manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        for f in manifest["files"]:
            data = (manifest_path.parent / f["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]


def _columns(release: Path) -> set[str]:
    con = duckdb.connect()
    out: set[str] = set()
    for p in release.glob("*.parquet"):
        out |= {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{p}'").fetchall()}
    return out


def test_no_identifying_item_leaves_below_identified_level(demo: DemoRun) -> None:
    identifying = {i.name for i in catalogue.all_items() if i.identifying}
    for manifest_path in demo.home.releases_dir.glob("*/manifest.json"):
        level = json.loads(manifest_path.read_text())["level"]
        if level != "identified":
            leaked = _columns(manifest_path.parent) & identifying
            assert not leaked, f"{manifest_path.parent.name} ({level}): {leaked}"


def test_survey_sample_holds_only_parents_who_agreed(demo: DemoRun) -> None:
    """The survey agreement's contacts leave only as the demo's drawn sample (no
    whole release), and hold only parents who agreed."""
    whole = [
        p.parent
        for p in demo.home.releases_dir.glob("*/manifest.json")
        if "survey_contacts" in json.dumps(json.loads(p.read_text()).get("items", []))
    ]
    assert not whole, "survey contacts were released whole"
    sample = demo.facts["survey_sample"]
    assert 0 < sample.size <= 200  # a small nation has fewer who agreed
    con = duckdb.connect()
    for p in sample.out_dir.glob("*.parquet"):
        values = {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT contact_consent FROM '{p}'"
            ).fetchall()
        }
        assert values == {"Y"}


def test_register_lists_every_active_agreement(demo: DemoRun) -> None:
    register = (demo.home.root / "register" / "register.csv").read_text()
    for agreement in demo.facts["agreements"]:
        assert agreement in register
    notice = (demo.home.root / "register" / "privacy-notice.txt").read_text()
    assert "Chief Statistician" in notice


def test_trend_chart_is_a_picture_that_needs_no_network(demo: DemoRun) -> None:
    release = demo.home.releases_dir / "dfe-ks-trends"
    png = (release / "attainment_trends.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    html = (release / "attainment_trends.html").read_text()
    assert "<svg" in html and "http" not in html.split("<svg")[0]
    assert "<script src" not in html


def test_every_release_is_in_a_ledger_that_verifies(demo: DemoRun) -> None:
    from pupilshare import ledger
    from pupilshare.rights import check_opt_outs

    report = ledger.verify(demo.home)
    assert report.ok, report.problems
    releases = list(demo.home.releases_dir.glob("*/manifest.json"))
    con = _store(demo)
    try:
        n = con.execute(
            "SELECT count(*) FROM ledger_entries WHERE kind = 'release'"
        ).fetchone()[0]
        removed = con.execute("SELECT count(*) FROM opt_outs").fetchone()[0]
        looked_up = con.execute(
            "SELECT count(*) FROM ledger_entries WHERE kind = 'lookup'"
        ).fetchone()[0]
    finally:
        con.close()
    assert n == len(releases) and removed >= 1
    assert check_opt_outs(demo.home) == (n + 1, [])  # and the survey sample
    head = json.loads((demo.home.root / "ledger" / "head.json").read_text())
    # the survey sample, the learner service's answers and the subject access answer
    assert looked_up >= 3 and head["tree_size"] == n + looked_up + 2
    packs = list((demo.home.root / "sar").glob("SAR-*.html"))
    assert len(packs) == 1 and "inclusion path" in packs[0].read_text()
