"""The README's main command ends by serving the demo's home (issue 13): the demo
hands its home, host and port to ``pupilshare serve``."""

from __future__ import annotations

from pathlib import Path

import pytest

import pupilshare.web
from pupilshare.cli import main


def test_the_demo_ends_by_serving_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[Path, str, int]] = []
    monkeypatch.setattr(
        pupilshare.web,
        "serve",
        lambda home, host, port: served.append((home.root, host, port)),
    )
    home = tmp_path / "home"
    code = main(["--home", str(home), "demo", "--pupils", "300", "--port", "8799"])
    assert code == 0
    assert served == [(home.resolve(), "127.0.0.1", 8799)]
