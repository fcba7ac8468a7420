"""What every command module shares: the typer ``app``, the ``console`` and the
context each command reads (the data home and who is asking).

It lives apart from ``cli.py`` (which attaches the commands and runs them) so the
command modules import it and nothing imports back: ``cli`` -> ``commands`` ->
``cliapp``, with no cycle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import typer
from rich.console import Console

from pupilshare.config import Home

app = typer.Typer(
    name="pupilshare",
    help="Collect, match, share and release pupil records under approved agreements.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=False)
err_console = Console(stderr=True)


@dataclass
class Ctx:
    """What every command needs: the data home and who is asking."""

    home: Home
    user: str | None

    def require(self, permission: str, what: str = "") -> None:
        """Deny by default: raise ``Denied`` unless the asker holds ``permission``."""
        # imported here to save start-up time: ``--help`` needs no governance
        from pupilshare.governance import authorise

        authorise(self.home, self.user, permission, what)


@app.callback()
def _root(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="Data home (default $PUPILSHARE_HOME "
                             "or ./pupilshare-data)."),
    user: str = typer.Option(None, "--user", help="Act as this named user (default "
                             "$PUPILSHARE_USER, else the local data-operations "
                             "operator)."),
) -> None:  # fmt: skip
    ctx.obj = Ctx(Home.resolve(home).check(),  # a file named as the home is refused
                  user or os.environ.get("PUPILSHARE_USER"))  # fmt: skip


def context(ctx: typer.Context) -> Ctx:
    """The root command's ``Ctx``: the data home and who is asking."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Ctx)
    return obj
