"""The abuse watch counts across processes: two service processes over one
database (two uvicorn workers, or the service and the command line) see one count,
so a user who spreads look-ups over them is throttled where one process alone
would have throttled them. Each process here is a real one (``spawn``), with its
own memory; the first look-up of each comes before the other's burst, so counts
kept per process (started from the records on first sight) would see only their
own share and never pass the threshold."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.lrs_world import OPS, make_world, user

from pupilshare import lrs
from pupilshare.lrs import watch

START = datetime(2026, 11, 3, 10, 0)  # a Tuesday, in working hours
NOBODY = {
    "forenames": "Zed",
    "surname": "Nobodyson",
    "date_of_birth": "2009-05-05",
    "sex": "M",
    "postcode": "LS1 1AB",
}


def _worker(root: str, conn: Any) -> None:
    """A service process: searches as school.user1 at the times it is sent, and
    answers each with ``answered``, ``throttled`` or ``suspended``."""
    from pupilshare.config import Home

    home = Home.resolve(Path(root))
    who = user("school")
    while (times := conn.recv()) is not None:
        got = []
        for at in times:
            try:
                lrs.search(home, who, NOBODY, at=at)
                got.append("answered")
            except lrs.Throttled:
                got.append("throttled")
            except lrs.Suspended:
                got.append("suspended")
        conn.send(got)


def test_two_processes_together_trip_the_watch(db_url, home) -> None:  # type: ignore[no-untyped-def]
    make_world(home, START)
    limit = watch.thresholds(400)["no_match"]  # the school's: 20 misses a day
    assert limit == 20
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    for _ in range(2):
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(str(home.root), theirs), daemon=True)
        p.start()
        pipes.append(mine)
        procs.append(p)
    at = iter(START + timedelta(seconds=s) for s in range(1000))
    try:
        answers: list[str] = []
        for conn, n in ((pipes[0], 1), (pipes[1], 1), (pipes[0], 14), (pipes[1], 14)):
            conn.send([next(at) for _ in range(n)])  # 15 each: neither alone is over
            answers += conn.recv()
    finally:
        for conn in pipes:
            conn.send(None)
        for p in procs:
            p.join(30)
    # the 21st miss of the day, whichever process answered it, is over the limit
    assert answers[:21] == ["answered"] * 21
    assert set(answers[21:]) == {"throttled"}
    flagged = {o["org_id"]: o for o in lrs.flagged(home, OPS)}
    assert "school" in flagged
    holds = flagged["school"]["open_holds"]
    assert [(h["user"], h["state"], h["rule"]) for h in holds] == [
        ("school.user1", "throttled", "no_match")
    ]
