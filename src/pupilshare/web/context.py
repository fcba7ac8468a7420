"""What every route needs: the service's state, who is asking, the guard that
applies the route table before any route runs, and the governance records."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from jinja2 import Environment
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pupilshare.config import Home
from pupilshare.errors import Denied, PupilshareError
from pupilshare.governance import Actor, session_scope
from pupilshare.web import signin
from pupilshare.web.permissions import ROUTES, allows
from pupilshare.web.reader import StoreReader
from pupilshare.web.sessions import COOKIE, RateLimit, Sessions, WebSession, csrf_ok

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInNeeded(PupilshareError):
    """No one is signed in, and the route needs someone."""

    exit_code = 3
    status = 401


class RateLimited(PupilshareError):
    exit_code = 3
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after + 0.999))


@dataclass
class WebState:
    home: Home
    reader: StoreReader
    templates: Environment
    secure_cookies: bool = True
    sessions: Sessions = field(default_factory=Sessions)
    by_address: RateLimit = field(default_factory=lambda: RateLimit(30, 60))
    by_username: RateLimit = field(default_factory=lambda: RateLimit(10, 300))
    page_cache: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    @property
    def db(self) -> str:
        """The governance records' URL (the home made and checked once, at start,
        rather than on every request)."""
        if self._db is None:
            self._db = self.home.ensure().db_url
        return self._db

    _db: str | None = field(default=None, init=False, repr=False)


def state(request: Request) -> WebState:
    return request.app.state.web


@contextmanager
def records(request: Request) -> Iterator[Session]:
    """One unit of work on the governance records."""
    with session_scope(state(request).db) as session:
        yield session


def web_session(request: Request) -> WebSession | None:
    if not hasattr(request.state, "web_session"):
        token = request.cookies.get(COOKIE)
        request.state.web_session = state(request).sessions.get(token)
    return request.state.web_session


def actor_of(request: Request) -> Actor | None:
    """Who is asking: an API token's user, or the session's; None when no one is.

    Re-read from the records on every request, so a locked or deactivated user
    loses access at once.
    """
    if hasattr(request.state, "actor"):
        return request.state.actor
    who: Actor | None = None
    auth = request.headers.get("authorization", "")
    request.state.via_token = auth.lower().startswith("bearer ")
    if request.state.via_token:
        host = request.client.host if request.client else "unknown"
        who = signin.token_actor(state(request).db, auth[7:].strip(), f"web:{host}")
    else:
        s = web_session(request)
        if s is not None and s.username:
            try:
                who = signin.resume(state(request).db, s.username, s.via)
            except Denied:
                state(request).sessions.end(request.cookies.get(COOKIE))
                request.state.web_session = None
    request.state.actor = who
    return who


def _needs_records(request: Request) -> bool:
    """Whether finding who is asking reads the records (a token or a signed-in
    session), or is answered from memory (no one signed in)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    s = web_session(request)
    return s is not None and bool(s.username)


def csrf_token(request: Request) -> str:
    """The CSRF token for this page's forms (starting an anonymous session if none,
    so the sign-in form has one too)."""
    s = web_session(request)
    if s is None:
        token, s = state(request).sessions.start(None)
        request.state.web_session = s
        request.state.set_cookie = token
    return s.csrf


async def guard(request: Request) -> None:
    """Before every route: the route table, then CSRF on every unsafe request that
    rides on the session cookie."""
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    rule = ROUTES.get(name or "")
    if _needs_records(request):
        actor = await run_in_threadpool(actor_of, request)
    else:  # no one to look up: answer here, without a trip to a worker thread
        actor = actor_of(request)
    if not allows(rule, actor is not None, actor.may if actor else None):
        if rule is None:
            raise Denied("this address is open to no one")
        if actor is None:
            raise SignInNeeded("sign in to see this page")
        raise Denied(f"{actor.username} may not use this page")
    if request.method in SAFE or request.state.via_token:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_ok(web_session(request), sent):
        raise Denied(
            "the form has expired or did not come from this service; "
            "go back, reload the page and try again"
        )


NAV: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("Register of shares", "/register", None),
    ("Privacy notice", "/privacy-notice", None),
    ("Statistics", "/statistics", None),
    ("Agreements", "/agreements", ("read", "read_own")),
    ("Apply", "/apply", ("submit",)),
    ("Panel", "/panel", ("sit_on_panel", "record_panel")),
    ("Collections", "/operations/collections", ("collect",)),
    ("Review queue", "/operations/reviews", ("review",)),
    ("Our pupils", "/local-authority/pupils", ("la_pupils",)),
    ("Your data", "/your-data", None),
    ("Learner service", "/operations/learner-service", ("lrs_manage",)),
    ("My learning record", "/my-learning-record", ("lrs_own_record",)),
)


def navigation(request: Request, actor: Actor | None) -> list[dict[str, Any]]:
    """Service navigation: the public pages, then what this user's roles open."""
    path = request.url.path
    out = []
    for text, href, perms in NAV:
        if perms is not None and (
            actor is None or not any(actor.may(p) for p in perms)
        ):
            continue
        out.append(
            {
                "text": text,
                "href": href,
                "active": path == href or path.startswith(href + "/"),
            }
        )
    return out
