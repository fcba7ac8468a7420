"""The web service: one FastAPI app over the same data home as the command line.

``create_app`` wires the route table's guard in front of every route, the error
shape (one JSON shape for ``/api``, a GOV.UK error page otherwise), the session
cookie and the security headers. Routes live in one module per kind of user and
only call the areas' public functions.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pupilshare.config import Home
from pupilshare.errors import InvalidInput, NotFound, PupilshareError
from pupilshare.web import render
from pupilshare.web.context import (
    RateLimited,
    SignInNeeded,
    WebState,
    actor_of,
    guard,
)
from pupilshare.web.reader import StoreReader
from pupilshare.web.sessions import ABSOLUTE, COOKIE

API_PREFIX = "/api"
# read once before the service listens, so no first visitor waits for imports,
# template compilation or the first store reads
WARM = (
    "/",
    "/register",
    "/statistics",
    "/privacy-notice",
    "/accessibility",
    "/sign-in",
    "/api/register",
    "/api/statistics",
    "/api/privacy-notice",
)


def create_app(home: Home, secure_cookies: bool = True) -> FastAPI:
    """The service for ``home``. ``secure_cookies`` stays on except for plain-HTTP
    test clients (browsers treat loopback as secure, so ``serve`` keeps it on)."""
    from pupilshare.web import (
        learner,
        local,
        lrs,
        operations,
        panel,
        people,
        public,
        recipients,
        yourdata,
    )

    app = FastAPI(
        title="pupilshare",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(guard)],
        description="The JSON API of the pupil data sharing service: the same "
        "routes, sessions and permissions as its pages. Authenticate with a "
        "session cookie (and the X-CSRF-Token header on changes) or an API token "
        "(Authorization: Bearer).",
    )
    app.state.web = WebState(
        home, StoreReader(home), render.environment(), secure_cookies
    )
    modules = (
        public,
        people,
        recipients,
        panel,
        operations,
        local,
        lrs,
        learner,
        yourdata,
    )
    for module in modules:
        app.include_router(module.router)
    # every route's name, for the test that the route table covers them all
    app.state.route_names = sorted(
        {r.name for m in modules for r in m.router.routes}
        | {str(getattr(r, "name", "")) for r in app.routes if getattr(r, "name", None)}
    )
    app.mount(
        "/assets", StaticFiles(directory=render.ASSETS, check_dir=False), name="assets"
    )
    app.mount("/static", StaticFiles(directory=render.HERE / "static"), name="static")
    _errors(app)
    app.add_middleware(SecurityHeaders)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def error_response(request: Request, e: PupilshareError) -> Response:
    if isinstance(e, SignInNeeded) and not _wants_json(request):
        query = f"?{request.url.query}" if request.url.query else ""
        target = request.url.path + query
        return RedirectResponse(f"/sign-in?next={_quote(target)}", status_code=303)
    headers = {}
    if isinstance(e, RateLimited) or getattr(e, "retry_after", None):
        headers["Retry-After"] = str(getattr(e, "retry_after", 1))
    elif e.status == 503:
        headers["Retry-After"] = "30"
    if _wants_json(request):
        return JSONResponse(e.as_json(), status_code=e.status, headers=headers)
    resp = render.page(request, "error.html", status=e.status, error=e)
    resp.headers.update(headers)
    return resp


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _errors(app: FastAPI) -> None:
    @app.exception_handler(PupilshareError)
    async def _known(request: Request, e: PupilshareError) -> Response:
        return error_response(request, e)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> Response:
        errors = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in e.errors()
        ]
        return error_response(request, InvalidInput("the request is not valid", errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> Response:
        if e.status_code == 404:
            if not _wants_json(request):  # no route ran the guard: who is it?
                await run_in_threadpool(actor_of, request)
            return error_response(request, NotFound("there is no page at this address"))
        err = PupilshareError(str(e.detail))
        err.status = e.status_code
        return error_response(request, err)


class SecurityHeaders:
    """The session cookie, when one was started or ended, and the security
    headers, added to each response as it starts.

    Plain ASGI rather than ``@app.middleware("http")`` (Starlette's
    ``BaseHTTPMiddleware``), which runs each request through a task group and
    memory streams: about a twentieth of a JSON request's CPU, measured with
    py-spy on the learner service's look-ups."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def start(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(scope, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, start)


def _add_headers(scope: Scope, headers: MutableHeaders) -> None:
    state = scope.get("state") or {}
    web: WebState = scope["app"].state.web
    token = state.get("set_cookie")
    clear = state.get("clear_cookie", False)
    if token is not None or clear:
        _add_cookies(web, token, clear, headers)
    script = f"'self' '{render.SCRIPT_HASH}'"
    headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src {script}; style-src 'self'; "
        "img-src 'self' data:; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    path = scope["path"]
    if path != "/" and not path.startswith("/assets"):
        headers.setdefault("Cache-Control", "no-store")


def _add_cookies(
    web: WebState, token: str | None, clear: bool, headers: MutableHeaders
) -> None:
    cookies = Response()
    if token is not None:
        cookies.set_cookie(
            COOKIE,
            token,
            max_age=ABSOLUTE,
            httponly=True,
            secure=web.secure_cookies,
            samesite="lax",
            path="/",
        )
    if clear:
        cookies.delete_cookie(
            COOKIE, path="/", secure=web.secure_cookies, httponly=True, samesite="lax"
        )
    for key, value in cookies.raw_headers:
        if key == b"set-cookie":
            headers.append("set-cookie", value.decode("latin-1"))


def warm_up(app: FastAPI) -> None:
    """Compile every template and ask for the public pages once, in process."""
    import asyncio

    import httpx

    env = app.state.web.templates
    for name in (render.HERE / "templates").glob("*.html"):
        env.get_template(name.name)

    async def ask() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://warm") as c:
            for path in WARM:
                await c.get(path)

    asyncio.run(ask())
