"""What every command module shares: the typer ``app``, the ``console`` and the
context each command reads (the data home and who is asking, proved by
``pupilshare.identity``).

It lives apart from ``cli.py`` (which attaches the commands and runs them) so the
command modules import it and nothing imports back: ``cli`` -> ``commands`` ->
``cliapp``, with no cycle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from pupilshare.config import Home

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pupilshare.identity import Principal

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
    """What every command needs: the data home and who is asking (``--user`` or
    ``--token``; proved once per command by ``pupilshare.identity``)."""

    home: Home
    user: str | None
    token: str | None = None
    _principal: Principal | None = field(default=None, repr=False)

    def principal(self, session: Session | None = None) -> Principal:
        """Who is asking, signed in (or the local operator); ``SignInFailed`` when
        the credentials are missing or wrong."""
        if self._principal is None:
            # imported here to save start-up time: ``--help`` needs no governance
            from pupilshare import governance
            from pupilshare.identity import LOCAL_OPERATOR, resolve

            def prove(s: Session) -> Principal:
                return resolve(s, self.user, self.token)

            if not (self.user or self.token):
                self._principal = LOCAL_OPERATOR
            elif session is not None:
                self._principal = prove(session)
            else:
                with governance.records(self.home, prove) as (_, who):
                    self._principal = who
        return self._principal

    def require(self, permission: str, what: str = "") -> Principal:
        """Deny by default: raise ``Denied`` unless the asker holds ``permission``."""
        who = self.principal()
        who.require(permission, what)
        return who


@app.callback()
def _root(
    ctx: typer.Context,
    home: str = typer.Option(
        None,
        "--home",
        help="Data home (default $PUPILSHARE_HOME or ./pupilshare-data).",
    ),
    user: str = typer.Option(
        None,
        "--user",
        help="Act as this named user (default "
        "$PUPILSHARE_USER, else the local data-operations "
        "operator): asks for their password, and an "
        "authentication code when their roles need one (on a "
        "terminal, else a line each on standard input).",
    ),
    token: str = typer.Option(
        None,
        "--token",
        help="Act as the user of this API "
        "token (default $PUPILSHARE_TOKEN; see `users token`).",
    ),
    engine: str = typer.Option(
        None,
        "--engine",
        help="Engine for the pupil data's SQL and Splink (match, link, "
        "release): duckdb (default) or spark (default $PUPILSHARE_ENGINE; see "
        "README, 'Running on Spark').",
    ),
) -> None:
    if engine:
        from pupilshare.engine import ENGINE_ENV, choose

        os.environ[ENGINE_ENV] = choose(engine)
    ctx.obj = Ctx(
        Home.resolve(home).check(),  # a file named as the home is refused
        user or os.environ.get("PUPILSHARE_USER"),
        token or os.environ.get("PUPILSHARE_TOKEN"),
    )


def context(ctx: typer.Context) -> Ctx:
    """The root command's ``Ctx``: the data home and who is asking."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Ctx)
    return obj
