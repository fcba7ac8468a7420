"""``pupilshare status``: what the store holds."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from pupilshare.cliapp import console, context
from pupilshare.status import store_status


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Each dataset's collections and row counts (and what later steps add)."""
        c = context(ctx)
        c.require("read_status", "read the store's status")
        report = store_status(c.home)
        if as_json:
            print(json.dumps(report, indent=2, default=str))
            return
        table = Table(title=f"pupilshare store: {report['home']}")
        for col in ("dataset", "collections", "rows", "rejected files"):
            table.add_column(col, justify="right" if col != "dataset" else "left")
        for name, ds in report["datasets"].items():
            table.add_row(
                name, str(len(ds["collections"])), str(ds["rows"]), str(ds["rejected"])
            )
        console.print(table)
        for key, value in report.items():
            if key not in ("home", "datasets"):
                console.print(f"{key}: {json.dumps(value, default=str)}")
