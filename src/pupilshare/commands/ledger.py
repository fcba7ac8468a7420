"""``pupilshare ledger verify|checkpoint|export|prove``: the disclosure ledger."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The disclosure ledger: verify, signed checkpoint, export, proofs.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="ledger")

    @group.command("verify")
    def verify(ctx: typer.Context) -> None:
        """Recompute the tree; name the first edited, deleted, inserted or reordered
        entry; check the store's release records agree. Exit 1 on any problem."""
        from pupilshare import ledger
        from pupilshare.cliapp import console, context
        from pupilshare.errors import PupilshareError

        c = context(ctx)
        c.require("ledger_verify", "verify the ledger")
        report = ledger.verify(c.home)
        if not report.ok:
            raise PupilshareError("the ledger does not verify", report.problems)
        console.print(
            f"ledger verified: {report.tree_size} entries, root {report.root_hash}",
            highlight=False,
        )

    @group.command("checkpoint")
    def checkpoint(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Sign and print the ledger's head (tree size, root hash, Ed25519 signature,
        public key) for outsiders to keep."""
        from pupilshare import ledger
        from pupilshare.cliapp import console, context

        c = context(ctx)
        c.require("ledger_checkpoint", "read the ledger's checkpoint")
        cp = ledger.checkpoint(c.home)
        if as_json:
            typer.echo(json.dumps(cp))
            return
        for k, v in cp.items():
            console.print(f"{k}: {v}", highlight=False)

    @group.command("export")
    def export(
        ctx: typer.Context,
        out: Path = typer.Option(..., "--out", help="JSON lines file to write."),
    ) -> None:
        """One JSON line per entry (index, leaf as hex of the bytes hashed, fields)."""
        from pupilshare import ledger
        from pupilshare.cliapp import console, context

        c = context(ctx)
        c.require("ledger_export", "export the ledger")
        n = ledger.export(c.home, out)
        console.print(f"{n} entries written to {out}", highlight=False)

    @group.command("prove")
    def prove(
        ctx: typer.Context,
        entry_index: int = typer.Argument(..., help="The entry (from 0)."),
        from_size: int = typer.Option(
            None,
            "--from-size",
            help="Also prove the current head extends the tree of N entries.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """An inclusion proof of the entry (and a consistency proof from N)."""
        from pupilshare import ledger
        from pupilshare.cliapp import console, context

        c = context(ctx)
        c.require("ledger_verify", "prove ledger entries")
        proof = ledger.prove(c.home, entry_index, from_size)
        if as_json:
            typer.echo(json.dumps(proof))
            return
        console.print_json(json.dumps(proof))
