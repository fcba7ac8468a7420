"""Messages instead of tracebacks, and no overwrite without ``--force`` (issue 11
point 7), through ``pupilshare.cli.main``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pupilshare.cli import main
from pupilshare.config import Home


def run(home: Home, *args: str, user: str | None = None) -> int:
    who = ["--user", user] if user else []
    return main(["--home", str(home.root), *who, *args])


def said(capsys: pytest.CaptureFixture) -> str:
    """What the command printed, spaces removed (the console wraps long lines)."""
    return re.sub(r"\s+", "", "".join(capsys.readouterr()))


def gist(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_register_out_onto_a_file_is_refused(
    home: Home, tmp_path: Path, capsys
) -> None:
    target = tmp_path / "register.csv"
    target.write_text("mine")
    assert run(home, "register", "--out", str(target)) == 2
    assert gist("is a file: --out takes a folder") in said(capsys)
    assert target.read_text() == "mine"


def test_register_never_overwrites_without_force(
    home: Home, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "reg"
    assert run(home, "register", "--out", str(out)) == 0
    (out / "register.csv").write_text("published yesterday")
    assert run(home, "register", "--out", str(out)) == 5
    assert gist("add --force") in said(capsys)
    assert (out / "register.csv").read_text() == "published yesterday"
    assert run(home, "register", "--out", str(out), "--force") == 0
    assert (out / "register.csv").read_text().startswith('"row_type"')


def test_an_unknown_action_is_named(home: Home, capsys) -> None:
    code = run(
        home,
        "agreements",
        "ask",
        "x",
        "--items",
        "census.upn",
        "--purpose",
        "p",
        "--action",
        "read",
        user=None,
    )
    assert code == 2
    assert gist("unknown action 'read'") in said(capsys)


def test_link_never_overwrites_without_force(
    home: Home, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "pairs.csv"
    out.write_text("earlier pairs")
    left = tmp_path / "l.csv"
    left.write_text(
        "id,forename,surname,dob,sex,postcode\n1,A,B,2010-01-01,F,AB1 2CD\n"
    )
    assert run(home, "link", str(left), str(left), "--out", str(out)) == 5
    assert gist("already exists") in said(capsys) and out.read_text() == "earlier pairs"
    assert run(home, "link", str(left), str(left), "--out", str(tmp_path)) == 2
