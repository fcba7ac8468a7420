"""``pupilshare synth``: write a synthetic nation of source files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pupilshare import synth as synthetic
from pupilshare.cliapp import console, context


def register(app: typer.Typer) -> None:
    @app.command()
    def synth(
        ctx: typer.Context,
        pupils: int = typer.Option(20_000, "--pupils", help="People in the nation."),
        seed: int = typer.Option(
            7, "--seed", help="Random seed (same seed, same bytes)."
        ),
        out: Path = typer.Option(
            None, "--out", help="Directory to write (default HOME/nation)."
        ),
        first_year: int = typer.Option(
            2021, "--first-year", help="First academic year (e.g. 2021 = 2021/22)."
        ),
        years: int = typer.Option(4, "--years", help="Academic years of returns."),
    ) -> None:
        """Synthesise census, assessment, NCMP, qualification and survey files."""
        c = context(ctx)
        c.require("synthesise", "synthesise a nation")
        target = out or c.home.root / "nation"
        with Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("places", total=synthetic.STAGES)

            def on(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            manifest = synthetic.synthesise(
                target, pupils, seed, progress=on, first_year=first_year, years=years
            )
        table = Table(title=f"synthetic nation: {pupils:,} pupils, seed {seed}")
        for col in ("dataset", "files", "rows"):
            table.add_column(col, justify="left" if col == "dataset" else "right")
        for ds, s in manifest["datasets"].items():
            table.add_row(ds, f"{s['files']:,}", f"{s['rows']:,}")
        console.print(table)
        console.print(
            f"written to {target}; {len(manifest['faulty'])} files are "
            "faulty on purpose (see manifest.json)"
        )
