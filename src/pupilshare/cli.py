"""The ``pupilshare`` command: one thin command per step of the flow.

The commands live in ``pupilshare.commands``, one module per area, each attaching
itself to the shared ``cliapp.app``; this module attaches them and runs the app.
Errors meant for users become a message and an exit code; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from pupilshare import commands
from pupilshare.cliapp import app, err_console
from pupilshare.errors import PupilshareError

_registered = False


def register_commands() -> typer.Typer:
    """Attach every area's commands to the app (once); the app."""
    global _registered
    if not _registered:
        from pupilshare.web import command as web_command

        for module in (*commands.MODULES, web_command):
            module.register(app)
        _registered = True
    return app


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
