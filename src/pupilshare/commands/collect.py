"""``pupilshare collect DATASET FILE...``: validate returns and load the good ones."""

from __future__ import annotations

from pathlib import Path

import typer

from pupilshare.cliapp import console, context
from pupilshare.collect import collect_files, plural, problem_table
from pupilshare.errors import InvalidInput


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        ctx: typer.Context,
        dataset: str = typer.Argument(None, help="Catalogue dataset, e.g. census."),
        files: list[Path] = typer.Argument(None, help="CSV files of that dataset."),
        withdraw: int = typer.Option(
            None,
            "--withdraw",
            metavar="COLLECTION_ID",
            help="Withdraw this collection's returns from "
            "the current data (kept in history).",
        ),
        reason: str = typer.Option(
            None, "--reason", help="Why the return is withdrawn (required)."
        ),
    ) -> None:
        """Validate each file against the catalogue; load it whole or reject it.

        Every problem is listed as file:line:field:reason on screen and in a CSV
        report under HOME/reports/. Exit code 2 when any file was rejected. A
        return sent again (same source and period, see the data dictionary)
        replaces the earlier version, which is kept in history.
        """
        c = context(ctx)
        c.require("collect", "collect files")
        if withdraw is not None:
            if dataset or files:
                raise InvalidInput(
                    "--withdraw takes a collection id alone: no DATASET or FILE"
                )
            from pupilshare.collect import withdraw_collection

            w = withdraw_collection(c.home, withdraw, reason or "")
            console.print(
                f"withdrew collection {w.collection_id} ({w.dataset}, {w.file_name}): "
                f"{plural(w.returns, 'return')}, {plural(w.rows, 'row')} moved to "
                "history; matching and releases no longer see them",
                highlight=False,
            )
            return
        if not dataset or not files:
            raise InvalidInput(
                "name a DATASET and one or more FILEs (or "
                "--withdraw COLLECTION_ID --reason TEXT)"
            )
        result = collect_files(c.home, dataset, files, console)
        for o in result.outcomes:
            if o.status == "duplicate":
                console.print(
                    f"{o.file}: already loaded as collection "
                    f"{o.collection_id}; not loaded again",
                    highlight=False,
                )
        if result.shown:
            console.print(problem_table(result.shown, result.errors + result.warnings))
        loaded, rejected = result.of("loaded"), result.of("rejected")
        console.print(
            f"loaded {plural(len(loaded), 'file')} ({plural(result.rows, 'row')}, "
            f"{plural(sum(o.warnings for o in loaded), 'warning')}), "
            f"rejected {plural(len(rejected), 'file')}"
            + (f"; report: {result.report_path}" if result.report_path else ""),
            highlight=False,
        )
        if rejected:
            raise InvalidInput(
                f"{len(rejected)} of {plural(len(files), 'file')} rejected, nothing "
                f"loaded from them ({plural(result.errors, 'error')}; report: "
                f"{result.report_path})",
                result.error_lines,
            )
