"""The web service's hold on the pupil store: never longer than one read.

DuckDB lets one process write a database file, and while it does no other process
may open it, not even to read. The command line owns the store for the length of
each run (a collection, a match, a release); the service opens it read-only for the
length of one query and closes it, so a command that starts meanwhile waits at most
a few milliseconds (``store.connect`` retries). While a command holds the store,
pages are served from the last answer read (``Fresh.stale`` says so and the page
shows when it was read); a page never waits for a run to finish. Only a review
decision writes through the service, and it waits a few seconds, then says busy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pupilshare.config import Home
from pupilshare.errors import Busy
from pupilshare.store import Store

T = TypeVar("T")
READ_WAIT = 0.25  # seconds a page waits for the store before using its last answer
WRITE_WAIT = 5.0
FRESH_FOR = 5.0  # seconds an answer is reused without reopening the store
BUSY_FOR = 1.0  # seconds pages use their last answers, untried, after finding it busy


@dataclass(frozen=True)
class Fresh(Generic[T]):
    """An answer and when it was read; ``stale`` when the store was busy."""

    value: T
    read_at: datetime
    stale: bool = False


class StoreReader:
    """Short reads of the store, each answer kept for when the store is busy."""

    def __init__(
        self, home: Home, read_wait: float = READ_WAIT, fresh_for: float = FRESH_FOR
    ) -> None:
        self.home = home
        self.read_wait = read_wait
        self.fresh_for = fresh_for
        self._cache: dict[Hashable, tuple[float, Fresh]] = {}
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
        try:
            with self._lock:
                again = self._cache.get(key)  # read by another request meanwhile
                if again is not None and time.monotonic() - again[0] < self.fresh_for:
                    return again[1]
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
            return Fresh(hit[1].value, hit[1].read_at, stale=True)
        self._cache[key] = (time.monotonic(), answer)
        return answer

    def write(self, fn: Callable[[Store], T]) -> T:
        """``fn`` over a writable store, waiting a few seconds for it at most."""
        with self._lock, Store.open(self.home, wait=WRITE_WAIT) as store:
            out = fn(store)
        self._cache.clear()
        return out

    def forget(self) -> None:
        self._cache.clear()


def _utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
