"""``pupilshare serve``: the web service over this data home.

It lives with the web service (a face the other commands may not import); ``cli``
attaches it beside the commands of ``pupilshare.commands``, and ``demo`` ends by
invoking it by name."""

from __future__ import annotations

import typer

HOST = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
PORT = typer.Option(8000, "--port", help="Port to listen on.")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(ctx: typer.Context, host: str = HOST, port: int = PORT) -> None:
        """Serve the pages and the JSON API (the store stays the command line's: the
        service opens it only for the length of each read)."""
        from pupilshare.cliapp import console, context
        from pupilshare.web import serve as run

        c = context(ctx)
        console.print(
            f"pupilshare serving {c.home.root} at http://{host}:{port}/ "
            "(Ctrl+C stops it)"
        )
        run(c.home, host, port)
