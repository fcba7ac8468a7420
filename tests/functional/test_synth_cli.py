"""``pupilshare synth`` and the demo's synthesise step, end to end."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from pupilshare.cli import main
from pupilshare.config import Home
from pupilshare.demo import DemoRun, synthesise_step
from pupilshare.store import Store


def test_synth_command_writes_a_nation(tmp_path: Path, home: Home) -> None:
    out = tmp_path / "n"
    assert main(["synth", "--pupils", "300", "--seed", "5", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pupils"] == 300 and manifest["seed"] == 5
    assert (out / "truth.csv").exists() and (out / "reference" / "schools.csv").exists()


def test_synth_defaults_to_the_home_and_status_shows_it(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", "--pupils", "100", "--years", "2"]) == 0
    manifest = json.loads((home.root / "nation" / "manifest.json").read_text())
    assert manifest["years"] == 2
    Store.open(home).close()  # status reports sections once a store exists
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    nation = json.loads(capsys.readouterr().out)["nation"]
    assert nation["pupils"] == 100 and nation["years"] == [2021, 2022]
    assert nation["faulty"] == manifest["faulty"]


def test_synth_rejects_a_tiny_nation(tmp_path: Path, home: Home) -> None:
    assert main(["synth", "--pupils", "5", "--out", str(tmp_path / "n")]) == 2
    assert not (tmp_path / "n").exists()


def test_demo_step_synthesises_and_shares_facts(home: Home) -> None:
    run = DemoRun(home, 300, 3, Console(file=io.StringIO()))
    summary = synthesise_step(run)
    assert "300 pupils" in summary and "faulty" in summary
    assert Path(run.facts["nation_dir"]) == run.nation_dir
    assert run.facts["faulty_files"]
    assert (run.nation_dir / "manifest.json").exists()
