"""Answers recomputed behind the visitor's back: stale-while-revalidate.

A page whose cached answer has just expired is served that answer at once, and the
answer is recomputed on one background thread, so under load no visitor waits for a
store read or a page render (the cause of the service's latency tail: every few
seconds one request per page reopened the store and re-rendered while the others
queued behind it). Each key is queued at most once at a time; a job that fails is
dropped (the next visitor queues it again).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


class Refresher:
    """One daemon thread that runs queued jobs in turn, each key once at a time."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Hashable, Callable[[], object]]] = (
            queue.SimpleQueue()
        )
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, key: Hashable, job: Callable[[], object]) -> bool:
        """Queue ``job`` unless ``key`` is already queued or running; True if queued."""
        with self._lock:
            if key in self._pending:
                return False
            self._pending.add(key)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="pupilshare-refresh", daemon=True
                )
                self._thread.start()
        self._queue.put((key, job))
        return True

    def on_refresh_thread(self) -> bool:
        """True inside a job (whose own reads should not be deferred again)."""
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        while True:
            key, job = self._queue.get()
            try:
                job()
            except Exception:  # the next visitor queues it again
                log.warning("refreshing %r failed", key, exc_info=True)
            finally:
                with self._lock:
                    self._pending.discard(key)
