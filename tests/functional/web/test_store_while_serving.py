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
from pupilshare.web.reader import FRESH_FOR

# seconds: no page may take longer while the run holds the store (generous for a
# shared 2-core machine; the run itself must last longer, so a page that waited for
# the run to end would fail)
SLOW_PAGE = 3.0


@pytest.fixture(scope="module")
def home(demo_run, tmp_path_factory: pytest.TempPathFactory) -> Home:  # type: ignore[no-untyped-def]
    return copy_home(demo_run.home, tmp_path_factory.mktemp("serving") / "home")


def test_release_run_while_serving(home: Home) -> None:
    exe = shutil.which("pupilshare") or str(Path(sys.executable).parent / "pupilshare")
    with live_server(home) as url, httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/api/register", "/api/statistics", "/register", "/statistics"):
            assert client.get(path).status_code == 200  # warm: answers to fall back on
        env = {**os.environ, "PUPILSHARE_RELEASE_PAUSE": "1.0"}  # hold the store longer
        run_started = time.perf_counter()
        run = subprocess.Popen(
            [
                exe,
                "--home",
                str(home.root),
                "release",
                "ofsted-inspection",
                "--out",
                str(home.releases_dir / "again"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        slowest, stale, answered, worst = 0.0, 0, 0, ""
        while run.poll() is None:
            for path in ("/api/register", "/register", "/statistics", "/healthz"):
                started = time.perf_counter()
                r = client.get(path)
                took = time.perf_counter() - started
                if took > slowest:
                    slowest, worst = took, path
                assert r.status_code == 200, (path, r.text[:300])
                answered += 1
                if path == "/api/register" and r.json()["stale"]:
                    stale += 1
        out, err = run.communicate()
        run_took = time.perf_counter() - run_started
        assert run.returncode == 0, err
        assert run_took > SLOW_PAGE, run_took
        assert answered > 8 and stale >= 1, (answered, stale)
        assert slowest < SLOW_PAGE, (worst, slowest)
        # once the run ends, pages read the store again and show the new release
        # (the answer is reused for FRESH_FOR seconds, then read again in the
        # background while the next visitor still gets the last one)
        deadline = time.monotonic() + FRESH_FOR + 10
        while True:
            rels = client.get("/api/register").json()
            made = [
                r
                for r in rels["in_force"]
                if r["row_type"] == "release" and r["reference"] == "ofsted-inspection"
            ]
            if (not rels["stale"] and len(made) == 2) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert not rels["stale"]
        assert len(made) == 2


def test_command_waits_for_a_page_read_instead_of_failing(home: Home) -> None:
    """The service holds the store for one read at a time; a command (another
    process) that starts meanwhile waits for it (``store.connect``) rather than
    failing."""
    import threading

    from pupilshare.store import Store
    from pupilshare.web.reader import StoreReader

    reader = StoreReader(home, fresh_for=0)
    holding = threading.Event()

    def slow(store: Store) -> int:
        holding.set()
        time.sleep(1.5)
        return int(store.one("SELECT count(*) FROM releases"))

    t = threading.Thread(target=lambda: reader.read("slow", slow, 0))
    t.start()
    holding.wait(10)
    command = (
        "import sys; from pupilshare.config import Home; "
        "from pupilshare.store import Store; "
        "s = Store.open(Home.resolve(sys.argv[1]), wait=20); "
        "s.execute('CREATE TABLE IF NOT EXISTS web_probe (x INT)'); "
        "s.close()"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", command, str(home.root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    waited = time.perf_counter() - started
    t.join()
    assert done.returncode == 0, done.stderr
    assert waited > 0.5  # it met the page's read, and waited for it
