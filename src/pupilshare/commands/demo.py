"""``pupilshare demo``: the main job."""

from __future__ import annotations

import typer

from pupilshare.cliapp import console, context
from pupilshare.demo import DemoRun, run_demo


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        pupils: int = typer.Option(20_000, "--pupils", help="Pupils in the nation."),
        seed: int = typer.Option(7, "--seed", help="Random seed of the nation."),
    ) -> None:  # fmt: skip
        """Run a synthetic nation through collect, match, share, release, register."""
        c = context(ctx)
        c.require("run_demo", "run the demo")
        console.print(
            f"pupilshare demo: {pupils:,} pupils, seed {seed}, home {c.home.root}"
        )
        run_demo(DemoRun(c.home, pupils, seed, console))
