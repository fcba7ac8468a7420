"""The demo's collect step over a small nation laid out as DEVELOPERS.md says."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.demo import DemoRun, collect_step
from pupilshare.status import store_status
from pupilshare.store import Store
from pupilshare.synth.valid_returns import write_sample


def make_nation(root: Path) -> None:
    """Reference files, three census returns (one faulty) and two NCMP files."""
    (root / "reference").mkdir(parents=True)
    with Store() as s:
        for name in ("postcodes", "schools"):
            write_sample(
                s, catalogue.dataset(name), root / "reference" / f"{name}.csv", 30
            )
        for ds, files in (("census", 3), ("ncmp", 2), ("ks_results", 1)):
            (root / ds).mkdir()
            for k in range(files):
                write_sample(
                    s,
                    catalogue.dataset(ds),
                    root / ds / f"{ds}-{k}.csv",
                    40,
                    start=k * 40,
                )
    bad = root / "census" / "census-1.csv"
    lines = bad.read_text().splitlines()
    values = lines[7].split(",")  # sample values hold no commas
    values[catalogue.dataset("census").columns.index("sex")] = "Q"
    lines[7] = ",".join(values)
    bad.write_text("\n".join(lines) + "\n")


def test_demo_step_loads_the_nation_and_reports_rejections(home: Home) -> None:
    out = io.StringIO()
    run = DemoRun(home, pupils=100, seed=1, console=Console(file=out))
    make_nation(run.nation_dir)
    summary = collect_step(run)
    assert summary.startswith("loaded 7 files (260 rows, 0 warnings)")
    assert "rejected 1 files (see reports/collect-" in summary
    report = store_status(home)["datasets"]
    assert report["postcodes"]["rows"] == 30 and report["schools"]["rows"] == 30
    assert len(report["census"]["collections"]) == 2
    assert report["census"]["rejected"] == 1
    assert report["ncmp"]["rows"] == 80
    # Reference datasets were collected before pupil datasets.
    with Store(home.store_path, read_only=True) as s:
        order = [
            r[0]
            for r in s.rows("SELECT dataset FROM collections ORDER BY collection_id")
        ]
    assert order[:2] == ["postcodes", "schools"]
    text = (home.root / run.facts["collect"]["report"]).read_text()
    rows = [",".join(r) for r in csv.reader(io.StringIO(text))]  # cells quoted
    assert rows[0] == "file,line,field,severity,reason"
    assert rows[1].startswith("census/census-1.csv,8,sex,error,")
