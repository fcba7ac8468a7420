"""``pupilshare demo``: the main job."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from pupilshare.cliapp import console, context
from pupilshare.demo import DemoRun, run_demo


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        pupils: int = typer.Option(20_000, "--pupils", help="Pupils in the nation."),
        seed: int = typer.Option(7, "--seed", help="Random seed of the nation."),
        no_serve: bool = typer.Option(
            False,
            "--no-serve",
            help="Stop after the last step instead of serving the pages.",
        ),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
        port: int = typer.Option(8000, "--port", help="Port to serve on."),
    ) -> None:
        """Run a synthetic nation through collect, match, share, release, register,
        then serve the pages (the address and the demo users are printed)."""
        c = context(ctx)
        c.require("run_demo", "run the demo")
        console.print(
            f"pupilshare demo: {pupils:,} pupils, seed {seed}, home {c.home.root}"
        )
        run = DemoRun(c.home, pupils, seed, console)
        run_demo(run)
        show_users(console, run.facts.get("users", {}))
        if no_serve:
            return
        console.print("\nsign in to the pages as any demo user above")
        root = ctx.find_root()
        serve = root.command.get_command(root, "serve")  # type: ignore[attr-defined]
        # parsed as if typed: ctx.invoke with a command object hands host and
        # port to the context's constructor under typer 0.2x
        args = ["--host", host, "--port", str(port)]
        with serve.make_context("serve", args, parent=root) as sub:
            serve.invoke(sub)


def show_users(console: Console, issued: dict[str, Any]) -> None:
    """The demo users' generated credentials, so a person can act as each of them
    (``--user NAME``, or signing in to the web service). Plain lines, never cut
    short to fit a terminal."""
    if not issued:
        return
    console.print(
        "[bold]demo users[/] (credentials generated for this home; the "
        "authentication code comes from any authenticator app given the "
        "TOTP secret):"
    )
    width = max(map(len, issued))
    for name, i in issued.items():
        secret = f"  TOTP secret {i.totp_secret}" if i.totp_secret else ""
        console.print(
            f"  {name:<{width}}  password {i.password}{secret}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
