"""``pupilshare release AGREEMENT_ID --out DIR``: build, check and deliver a release."""

from __future__ import annotations

from pathlib import Path

import typer

import pupilshare.release  # noqa: F401  (registers the status section)


def register(app: typer.Typer) -> None:
    @app.command()
    def release(
        ctx: typer.Context,
        agreement_id: str = typer.Argument(..., help="The approved agreement."),
        out: Path = typer.Option(..., "--out", help="Directory to deliver into."),
        plan: Path = typer.Option(None, "--plan", help="A release plan as JSON "
                                  "(testing; otherwise governance's plan is used)."),
        csv: bool = typer.Option(True, "--csv/--no-csv", help="Also write CSV."),
    ) -> None:  # fmt: skip
        """Release one agreement at its level: minimise, filter, de-identify, check,
        deliver."""
        from pupilshare.cli import console, context
        from pupilshare.release.runner import release_agreement

        c = context(ctx)
        m = release_agreement(c.home, agreement_id, out, plan, c.user,
                              ("parquet", "csv") if csv else ("parquet",))  # fmt: skip
        console.print(f"[bold green]delivered[/] {m.release_id} ({m.level}) to {out}")
        for f in m.files:
            console.print(f"  {f.name}: {f.rows} rows, sha256 {f.sha256[:16]}...")
        for name, value in m.rules.items():
            if name not in ("tables", "symbols"):
                console.print(f"  rule {name}: {value}", highlight=False)
