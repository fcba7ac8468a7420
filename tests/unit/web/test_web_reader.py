"""The service's store reads under load: an expired answer is checked against the
store's files instead of being read again, a changed store is read again in the
background while visitors get the last answer at once, and only a first read, a
long-unvisited answer or one the busy store left stale makes a visitor wait."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pupilshare.config import Home
from pupilshare.store import Store
from pupilshare.web.reader import StoreReader
from pupilshare.web.refresh import Refresher


@pytest.fixture
def home(tmp_path: Path) -> Home:
    h = Home.resolve(tmp_path / "home").ensure()
    with Store.open(h) as s:
        s.execute("CREATE TABLE t (x INT)")
        s.execute("INSERT INTO t VALUES (1)")
    return h


def write(home: Home, x: int) -> None:
    with Store.open(home) as s:
        s.execute("UPDATE t SET x = ?", [x])


def settle(reader: StoreReader, timeout: float = 10.0) -> None:
    """Wait for the background refreshes queued so far."""
    done = threading.Event()
    reader.refresher.submit(("test", time.monotonic()), done.set)
    assert done.wait(timeout)


class Counting:
    def __init__(self, pause: float = 0.0) -> None:
        self.calls, self.pause = 0, pause

    def __call__(self, store: Store) -> int:
        self.calls += 1
        time.sleep(self.pause)
        return int(store.one("SELECT x FROM t"))


def test_an_expired_answer_of_an_unchanged_store_is_not_read_again(home: Home) -> None:
    reader = StoreReader(home, fresh_for=0)
    fn = Counting()
    assert reader.read("k", fn, 0).value == 1
    for _ in range(20):
        assert reader.read("k", fn, 0).value == 1
    settle(reader)
    assert fn.calls == 1


def test_a_changed_store_is_read_again_in_the_background(home: Home) -> None:
    reader = StoreReader(home, fresh_for=0)
    fn = Counting(pause=0.5)
    assert reader.read("k", fn, 0).value == 1
    write(home, 2)
    started = time.perf_counter()
    got = reader.read("k", fn, 0)  # the last answer, at once
    assert time.perf_counter() - started < 0.3
    assert got.value == 1 and not got.stale
    settle(reader)
    assert reader.read("k", fn, 0).value == 2
    assert fn.calls == 2


def test_many_visitors_queue_one_refresh(home: Home) -> None:
    reader = StoreReader(home, fresh_for=0)
    fn = Counting(pause=0.2)
    reader.read("k", fn, 0)
    write(home, 3)
    answers = [reader.read("k", fn, 0).value for _ in range(50)]
    settle(reader)
    assert set(answers) == {1} and fn.calls == 2
    assert reader.read("k", fn, 0).value == 3


def test_a_long_unvisited_changed_answer_is_read_while_the_visitor_waits(
    home: Home,
) -> None:
    reader = StoreReader(home, fresh_for=0, serve_stale_for=0.2)
    fn = Counting()
    reader.read("k", fn, 0)
    write(home, 4)
    time.sleep(0.3)
    assert reader.read("k", fn, 0).value == 4


def test_an_answer_left_stale_by_a_busy_store_is_read_again_at_once(
    home: Home,
) -> None:
    reader = StoreReader(home, fresh_for=0, read_wait=0.05)
    fn = Counting()
    reader.read("k", fn, 0)
    holder = subprocess.Popen(  # a command holds the store (another process)
        [sys.executable, "-c", HOLD, str(home.store_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        reader.read("k", fn, 0)  # queues a refresh, which finds the store busy
        settle(reader)
        got = reader.read("k", fn, 0)
        assert got.value == 1 and got.stale
    finally:
        holder.communicate("", timeout=30)
    time.sleep(1.1)  # reader.BUSY_FOR
    got = reader.read("k", fn, 0)
    assert got.value == 5 and not got.stale


HOLD = (
    "import sys, duckdb; c = duckdb.connect(sys.argv[1]); "
    "c.execute('UPDATE t SET x = 5'); c.execute('CHECKPOINT'); "
    "print('held', flush=True); sys.stdin.read(); c.close()"
)


def test_the_refresher_runs_each_key_once_at_a_time() -> None:
    r = Refresher()
    gate, ran = threading.Event(), []
    assert r.submit("a", lambda: (gate.wait(5), ran.append("a")))
    assert not r.submit("a", lambda: ran.append("again"))
    gate.set()
    done = threading.Event()
    r.submit("b", done.set)
    assert done.wait(5)
    assert ran == ["a"]
    assert r.submit("a", lambda: ran.append("later"))  # free again once run


def test_a_failing_job_does_not_stop_the_refresher() -> None:
    r = Refresher()
    r.submit("bad", lambda: 1 / 0)
    done = threading.Event()
    r.submit("good", done.set)
    assert done.wait(5)


def test_a_background_write_leaves_answers_to_be_read_again_behind_visitors(
    home: Home,
) -> None:
    reader = StoreReader(home, fresh_for=0)
    fn = Counting()
    reader.read("k", fn, 0)
    reader.write(lambda s: s.execute("UPDATE t SET x = 6"), forget=False)
    assert reader.read("k", fn, 0).value == 1  # at once, the last answer
    settle(reader)
    assert reader.read("k", fn, 0).value == 6
    reader.write(lambda s: s.execute("UPDATE t SET x = 7"))  # a visitor's own write
    assert reader.read("k", fn, 0).value == 7  # shown on their next page
