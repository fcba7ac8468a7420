"""``pupilshare serve`` seals the learner service's answers from a process of its
own: a look-up answered over HTTP reaches the ledger within a few seconds, and
the sealer ends with the service."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.functional.web.test_lrs_api import ADA, AT, token_for
from tests.lrs_world import make_world

from pupilshare import lrs


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return out


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _wait(ok, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ok():
            return True
        time.sleep(0.2)
    return False


def test_serve_seals_from_its_own_process_and_stops_with_it(home) -> None:  # type: ignore[no-untyped-def]
    w = make_world(home, AT)
    uln = lrs.register(home, w.users["school"], ADA, at=AT)["learner"]["uln"]
    ao = token_for(home, "ao.user1", "ao", {"lrs_user"})
    port = _port()
    env = {k: v for k, v in os.environ.items() if k != "PUPILSHARE_DB_URL"}
    server = subprocess.Popen(
        [sys.executable, "-m", "pupilshare", "--home", str(home.root), "serve"]
        + ["--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert _wait(up, 90), "the service did not start"
        sealers = _children(server.pid)
        assert len(sealers) == 1
        r = httpx.post(
            f"{base}/api/lrs/verify",
            json={"uln": uln, "surname": "Lovelace", "date_of_birth": "2010-12-10"},
            headers={"Authorization": f"Bearer {ao}"},
        )
        assert r.status_code == 200 and r.json()["outcome"] == "match"
        assert _wait(lambda: lrs.unsealed(home) == 0, 30)
    finally:
        server.terminate()
        server.wait(30)
    assert _wait(lambda: _gone(sealers[0]), 15)
