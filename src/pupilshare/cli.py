"""The ``pupilshare`` command: one thin command per step of the flow.

Each command parses its arguments, calls the function for its step and prints with
``rich``; the commands themselves live in ``pupilshare.commands``, one module per area,
each registering onto this app. Errors meant for users become a message and an exit
code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from pupilshare.config import Home
from pupilshare.errors import PupilshareError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from pupilshare.governance.access import Principal

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
            from pupilshare.governance.db import session_scope
            from pupilshare.identity import LOCAL_OPERATOR, resolve

            if not (self.user or self.token):
                self._principal = LOCAL_OPERATOR
            elif session is not None:
                self._principal = resolve(session, self.user, self.token)
            else:
                with session_scope(self.home) as s:
                    self._principal = resolve(s, self.user, self.token)
        return self._principal

    def require(self, permission: str, what: str = "") -> Principal:
        """Deny by default: raise ``Denied`` unless the asker holds ``permission``."""
        who = self.principal()
        who.require(permission, what)
        return who


@app.callback()
def _root(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="Data home (default $PUPILSHARE_HOME "
                             "or ./pupilshare-data)."),
    user: str = typer.Option(None, "--user", help="Act as this named user (default "
                             "$PUPILSHARE_USER, else the local data-operations "
                             "operator): asks for their password, and an "
                             "authentication code when their roles need one (on a "
                             "terminal, else a line each on standard input)."),
    token: str = typer.Option(None, "--token", help="Act as the user of this API "
                              "token (default $PUPILSHARE_TOKEN; see `users token`)."),
) -> None:  # fmt: skip
    ctx.obj = Ctx(Home.resolve(home), user or os.environ.get("PUPILSHARE_USER"),
                  token or os.environ.get("PUPILSHARE_TOKEN"))


def context(ctx: typer.Context) -> Ctx:
    obj = ctx.find_root().obj
    assert isinstance(obj, Ctx)
    return obj


_registered = False


def register_commands() -> None:
    """Attach every area's commands to the app (once)."""
    global _registered
    if _registered:
        return
    from pupilshare import commands

    for module in commands.MODULES:
        module.register(app)
    _registered = True


def main(argv: list[str] | None = None) -> int:
    register_commands()
    try:
        app(args=argv, standalone_mode=False)
    except PupilshareError as e:
        err_console.print(f"[bold red]error:[/] {e.message}", highlight=False)
        for line in e.errors[:50]:
            err_console.print(f"  {line}", highlight=False, markup=False)
        if len(e.errors) > 50:
            err_console.print(f"  ... and {len(e.errors) - 50} more")
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 1
    except typer.TyperException as e:  # usage errors carry their own exit code
        show = getattr(e, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(e, "exit_code", 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
