"""The web service: GOV.UK pages and a JSON API over the same data home as the
command line, every route denied by default (``permissions.ROUTES``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pupilshare.config import Home

__all__ = ["create_app", "serve"]


def create_app(home: Home, secure_cookies: bool = True) -> FastAPI:
    from pupilshare.web.app import create_app as _create

    return _create(home, secure_cookies)


def serve(home: Home, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service until interrupted (one process: sessions live in memory,
    and the store is opened only for the length of each read), with the learner
    service's sealer beside it in a process of its own."""
    import gc

    import uvicorn

    from pupilshare.web.app import warm_up
    from pupilshare.web.lrs import sealer_process

    app = create_app(home)
    warm_up(app)
    sealer = sealer_process(app)
    # What start-up made (about 190,000 objects) lives as long as the process:
    # out of the collector's reach, a full collection no longer walks them all
    # while every request waits (100-130 ms each, measured, on these 2 cores;
    # after the freeze, well under a millisecond).
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    finally:
        sealer.terminate()
        sealer.wait(30)
