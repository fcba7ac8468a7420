"""The web service's hold on the pupil store: never longer than one read.

DuckDB lets one process write a database file, and while it does no other process
may open it, not even to read. The command line owns the store for the length of
each run (a collection, a match, a release); the service opens it read-only for the
length of one query and closes it, so a command that starts meanwhile waits at most
a few milliseconds (``store.connect`` retries). While a command holds the store,
pages are served from the last answer read (``Fresh.stale`` says so and the page
shows when it was read); a page never waits for a run to finish. Only a review
decision writes through the service, and it waits a few seconds, then says busy.

An answer is reused for ``FRESH_FOR`` seconds without a look at the store. After
that, while the store's files are unchanged since the answer was read (their size,
times and inode: a few microseconds to check), it stays good. Once they change, the
next visitor still gets the answer at once while it is read again in the background
(``refresh.Refresher``), so no visitor waits on a recompute; only a first read, an
answer older than ``SERVE_STALE_FOR``, or one marked stale (the store was busy) is
read while the visitor waits.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pupilshare.config import Home
from pupilshare.errors import Busy
from pupilshare.store import Store
from pupilshare.web.refresh import Refresher

T = TypeVar("T")
READ_WAIT = 0.25  # seconds a page waits for the store before using its last answer
WRITE_WAIT = 5.0
FRESH_FOR = 5.0  # seconds an answer is reused without reopening the store
BUSY_FOR = 1.0  # seconds pages use their last answers, untried, after finding it busy
SERVE_STALE_FOR = 60.0  # seconds an answer is served at most before it is read again


@dataclass(frozen=True)
class Fresh(Generic[T]):
    """An answer and when it was read; ``stale`` when the store was busy."""

    value: T
    read_at: datetime
    stale: bool = False


class StoreReader:
    """Short reads of the store, each answer kept for when the store is busy."""

    def __init__(
        self,
        home: Home,
        read_wait: float = READ_WAIT,
        fresh_for: float = FRESH_FOR,
        serve_stale_for: float = SERVE_STALE_FOR,
        refresher: Refresher | None = None,
    ) -> None:
        self.home = home
        self.read_wait = read_wait
        self.fresh_for = fresh_for
        self.serve_stale_for = serve_stale_for
        self.refresher = refresher or Refresher()
        self._cache: dict[Hashable, tuple[float, Fresh]] = {}
        self._seen: dict[Hashable, tuple] = {}  # the store's signature at each read
        self._born: dict[Hashable, float] = {}  # when each answer was read
        self._busy_until = 0.0
        self._lock = threading.Lock()  # one open at a time in this process

    def read(self, key: Hashable, fn: Callable[[Store], T], empty: T) -> Fresh[T]:
        """``fn`` over a read-only store; ``empty`` when there is no store yet."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.fresh_for:
            return hit[1]
        if not self.home.store_path.exists():
            return Fresh(empty, _utc())
        if hit is not None and now < self._busy_until:  # a run holds it: don't wait
            return Fresh(hit[1].value, hit[1].read_at, stale=True)
        if hit is None or hit[1].stale:
            return self._read_now(key, fn, hit)
        if self._seen.get(key) == self._signature():  # nothing written since
            self._cache[key] = (now, hit[1])
            if now - self._born.get(key, now) >= self.serve_stale_for:
                self._refresh_later(key, fn, force=True)  # in case a write hid
            return hit[1]
        if (
            now - hit[0] >= self.serve_stale_for  # long unvisited: read it now
            or self.refresher.on_refresh_thread()  # a page rendered in the background
        ):
            return self._read_now(key, fn, hit)
        self._refresh_later(key, fn)
        return hit[1]

    def _refresh_later(
        self, key: Hashable, fn: Callable[[Store], T], force: bool = False
    ) -> None:
        def job() -> None:
            if force or self._seen.get(key) != self._signature():
                self._read_now(key, fn, self._cache.get(key), check_again=False)

        self.refresher.submit(("store", key), job)

    def _signature(self) -> tuple:
        """What changes when a command writes the store: its files' identity."""
        out = []
        for path in (
            self.home.store_path,
            self.home.store_path.with_suffix(".duckdb.wal"),
        ):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                out.append(None)
            else:
                out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        return tuple(out)

    def _read_now(
        self,
        key: Hashable,
        fn: Callable[[Store], T],
        hit: tuple[float, Fresh] | None,
        check_again: bool = True,
    ) -> Fresh[T]:
        try:
            with self._lock:
                again = self._cache.get(key)  # read by another request meanwhile
                if (
                    check_again
                    and again is not None
                    and again is not hit
                    and time.monotonic() - again[0] < self.fresh_for
                ):
                    return again[1]
                signature = self._signature()  # before: a later write shows as one
                with Store(
                    self.home.store_path, read_only=True, wait=self.read_wait
                ) as store:
                    answer = Fresh(fn(store), _utc())
        except Busy:
            self._busy_until = time.monotonic() + BUSY_FOR
            if hit is None:
                raise Busy(
                    "the pupil store is busy with a collection, match or "
                    "release; try again in a minute"
                ) from None
            stale = Fresh(hit[1].value, hit[1].read_at, stale=True)
            self._cache[key] = (hit[0], stale)  # the next visitor reads it again
            return stale
        self._cache[key] = (time.monotonic(), answer)
        self._born[key] = time.monotonic()
        self._seen[key] = signature
        return answer

    def write(self, fn: Callable[[Store], T], forget: bool = True) -> T:
        """``fn`` over a writable store, waiting a few seconds for it at most.

        ``forget`` drops every answer, so the writer's next page shows the write at
        once; a background writer (the learner service's sealer) passes False: its
        write changes the store's files, and answers are read again behind the
        visitors' backs instead of every page waiting on a read after each seal."""
        with self._lock, Store.open(self.home, wait=WRITE_WAIT) as store:
            out = fn(store)
        if forget:
            self.forget()
        return out

    def forget(self) -> None:
        self._cache.clear()
        self._seen.clear()
        self._born.clear()


def _utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
