"""Web sessions, CSRF tokens and the sign-in rate limit.

A session is a random token in a ``Secure; HttpOnly; SameSite=Lax`` cookie; the
service keeps only its SHA-256 (a leaked memory dump gives no live cookie), with an
idle and an absolute lifetime, and a new token at every sign-in (no fixation).
Every form carries the session's CSRF token, checked on every unsafe request made
with the cookie; a request with an API token carries no cookie and needs none.
Sessions live in the service's memory: a restart signs everyone out, which is the
safe direction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

COOKIE = "pupilshare_session"
IDLE = 30 * 60  # seconds without a request before a session ends
ABSOLUTE = 8 * 3600  # seconds after sign-in when it ends regardless


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class WebSession:
    username: str | None
    csrf: str
    via: str = ""  # how the user proved who they are (identity's principal.via)
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Live sessions by the digest of their token."""

    def __init__(self, idle: float = IDLE, absolute: float = ABSOLUTE) -> None:
        self.idle, self.absolute = idle, absolute
        self._live: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def start(self, username: str | None, via: str = "") -> tuple[str, WebSession]:
        token = secrets.token_urlsafe(32)
        s = WebSession(username, secrets.token_urlsafe(32), via)
        with self._lock:
            self._sweep()
            self._live[_digest(token)] = s
        return token, s

    def get(self, token: str | None) -> WebSession | None:
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            s = self._live.get(_digest(token))
            if s is None:
                return None
            if now - s.seen > self.idle or now - s.started > self.absolute:
                del self._live[_digest(token)]
                return None
            s.seen = now
            return s

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._live.pop(_digest(token), None)

    def end_user(self, username: str) -> None:
        """Sign a user out everywhere (their account was locked or deactivated)."""
        with self._lock:
            for k in [k for k, s in self._live.items() if s.username == username]:
                del self._live[k]

    def _sweep(self) -> None:
        now = time.monotonic()
        for k in [
            k
            for k, s in self._live.items()
            if now - s.seen > self.idle or now - s.started > self.absolute
        ]:
            del self._live[k]


def csrf_ok(session: WebSession | None, sent: str | None) -> bool:
    return bool(session and sent and hmac.compare_digest(session.csrf, sent))


class RateLimit:
    """At most ``limit`` attempts per ``window`` seconds for each key (a client
    address, a username); attempts past it are refused before any password check."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Record an attempt; the seconds to wait when over the limit, else 0."""
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and now - q[0] > self.window:
                q.popleft()
            if len(q) >= self.limit:
                return self.window - (now - q[0])
            q.append(now)
            return 0.0
