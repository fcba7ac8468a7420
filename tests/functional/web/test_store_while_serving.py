"""Who owns the store while the service runs: the command line, for each run.

A release run from the command line while the service is up must succeed, and the
pages must keep answering quickly meanwhile (from the last answer read, marked
stale, while the run holds the store)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import copy_home
from tests.functional.web.live import live_server

from pupilshare.config import Home

SLOW_PAGE = 1.0  # seconds: no page may take longer while the run holds the store


@pytest.fixture(scope="module")
def home(demo_run, tmp_path_factory: pytest.TempPathFactory) -> Home:  # type: ignore[no-untyped-def]
    return copy_home(demo_run.home, tmp_path_factory.mktemp("serving") / "home")


def test_release_run_while_serving(home: Home) -> None:
    exe = shutil.which("pupilshare") or str(Path(sys.executable).parent / "pupilshare")
    with live_server(home) as url, httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/api/register", "/api/statistics", "/register", "/statistics"):
            assert client.get(path).status_code == 200  # warm: answers to fall back on
        env = {**os.environ, "PUPILSHARE_RELEASE_PAUSE": "0.4"}  # hold the store longer
        run = subprocess.Popen(
            [exe, "--home", str(home.root), "release", "ofsted-inspection", "--out",
             str(home.releases_dir / "again")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)  # fmt: skip
        slowest, stale, answered = 0.0, 0, 0
        while run.poll() is None:
            for path in ("/api/register", "/register", "/statistics", "/healthz"):
                started = time.perf_counter()
                r = client.get(path)
                slowest = max(slowest, time.perf_counter() - started)
                assert r.status_code == 200, (path, r.text[:300])
                answered += 1
                if path == "/api/register" and r.json()["stale"]:
                    stale += 1
        out, err = run.communicate()
        assert run.returncode == 0, err
        assert answered > 8 and stale >= 1, (answered, stale)
        assert slowest < SLOW_PAGE, slowest
        # once the run ends, pages read the store again and show the new release
        time.sleep(2.1)
        rels = client.get("/api/register").json()
        assert not rels["stale"]
        made = [r for r in rels["in_force"] if r["row_type"] == "release"
                and r["reference"] == "ofsted-inspection"]  # fmt: skip
        assert len(made) == 2


def test_command_waits_for_a_page_read_instead_of_failing(home: Home) -> None:
    """The service holds the store for one read at a time; a command that starts
    meanwhile waits for it (``store.connect``) rather than failing."""
    from pupilshare.store import Store
    from pupilshare.web.reader import StoreReader

    reader = StoreReader(home, fresh_for=0)

    def slow(store: Store) -> int:
        time.sleep(0.5)
        return int(store.one("SELECT count(*) FROM releases"))

    import threading

    t = threading.Thread(target=lambda: reader.read("slow", slow, 0))
    t.start()
    time.sleep(0.1)
    started = time.perf_counter()
    with Store.open(home, wait=10) as store:  # as a command opens it
        assert store.one("SELECT count(*) FROM releases") > 0
    t.join()
    assert 0.2 < time.perf_counter() - started < 5
