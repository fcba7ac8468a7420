"""The CLI's frame: help, status on an empty home, errors as exit codes."""

from __future__ import annotations

import json

import pytest

from pupilshare.cli import main
from pupilshare.config import Home


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "status" in out and "demo" in out


def test_status_json_on_empty_home(
    home: Home, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(home.root), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["datasets"]["census"] == {"collections": [], "rows": 0, "rejected": 0}


def test_demo_refuses_a_home_it_did_not_make(home: Home) -> None:
    (home.root / "precious.txt").write_text("not the demo's")
    assert main(["--home", str(home.root), "demo"]) != 0
    assert (home.root / "precious.txt").exists()


def test_unknown_command_is_a_usage_error() -> None:
    assert main(["no-such-command"]) == 2
