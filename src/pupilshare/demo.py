"""The main job: a synthetic nation through every step of the flow.

Each step is one line in ``STEPS``: a title and the dotted path of a function that takes
the ``DemoRun`` and returns a one-line summary. A later step is added by adding a line,
never by rewriting the demo.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from pupilshare.config import Home
from pupilshare.errors import Conflict

STEPS: list[tuple[str, str]] = [
    ("synthesise", "pupilshare.synth:demo_step"),
    ("collect", "pupilshare.collect:demo_step"),
    ("match", "pupilshare.match:demo_step"),
    ("agreements", "pupilshare.governance:demo_step"),
    ("opt-outs", "pupilshare.rights.demo:optouts_step"),
    ("release", "pupilshare.release:demo_step"),
    ("register", "pupilshare.governance:register_step"),
    ("access", "pupilshare.rights.demo:sar_step"),
    ("ledger", "pupilshare.rights.demo:ledger_step"),
]

MARKER = ".pupilshare-demo"


@dataclass
class DemoRun:
    home: Home
    pupils: int
    seed: int
    console: Console
    facts: dict[str, Any] = field(default_factory=dict)  # shared between steps

    @property
    def nation_dir(self) -> Path:
        return self.home.root / "nation"


def _step(path: str) -> Callable[[DemoRun], str]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def prepare_home(home: Home) -> None:
    """Start the demo from an empty home; never wipe a home the demo did not make."""
    if home.root.exists() and any(home.root.iterdir()):
        if not (home.root / MARKER).exists():
            raise Conflict(
                f"{home.root} holds data not made by the demo; "
                "give the demo its own --home"
            )
        shutil.rmtree(home.root)
    home.ensure()
    (home.root / MARKER).write_text("made by pupilshare demo; safe to delete\n")


def run_demo(run: DemoRun) -> list[tuple[str, str, float]]:
    prepare_home(run.home)
    done = []
    for title, path in STEPS:
        started = time.perf_counter()
        summary = _step(path)(run)
        seconds = time.perf_counter() - started
        run.console.print(
            f"[bold green]{title:>11}[/] {summary} [dim]({seconds:.1f} s)[/]"
        )
        done.append((title, summary, seconds))
    return done
