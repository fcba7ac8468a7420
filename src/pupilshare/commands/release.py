"""``pupilshare release AGREEMENT_ID --out DIR``: build, check and deliver a release."""

from __future__ import annotations

from pathlib import Path

import typer

from pupilshare import release as releasing
from pupilshare.cliapp import console, context


def register(app: typer.Typer) -> None:
    @app.command()
    def release(
        ctx: typer.Context,
        agreement_id: str = typer.Argument(..., help="The approved agreement."),
        out: Path = typer.Option(..., "--out", help="Directory to deliver into."),
        csv: bool = typer.Option(True, "--csv/--no-csv", help="Also write CSV."),
    ) -> None:
        """Release one agreement at its level: minimise, filter, de-identify, check,
        deliver."""
        c = context(ctx)
        who = c.principal()
        m = releasing.release_agreement(
            c.home,
            agreement_id,
            out,
            who.username if who.named else None,
            ("parquet", "csv") if csv else ("parquet",),
        )
        console.print(f"[bold green]delivered[/] {m.release_id} ({m.level}) to {out}")
        for f in m.files:
            rows = f"{f.rows} rows, " if f.name.endswith((".parquet", ".csv")) else ""
            console.print(f"  {f.name}: {rows}sha256 {f.sha256[:16]}...")
        for name, risk in m.risk.items():
            if isinstance(risk, dict):
                keys = (
                    "k",
                    "records_suppressed",
                    "prosecutor_risk_max",
                    "journalist_risk_max",
                    "sample_uniques_before",
                )
                shown = ", ".join(f"{k} {risk[k]}" for k in keys if k in risk)
                console.print(f"  risk {name}: {shown}", highlight=False)
        for name, value in m.rules.items():
            if name not in ("tables", "symbols"):
                console.print(f"  rule {name}: {value}", highlight=False)
