"""Pages: Jinja2 templates in the GOV.UK Design System's patterns.

Templates extend ``govuk_frontend_jinja``'s page template and call its component
macros; the compiled GOV.UK Frontend CSS, JS, fonts and images are fetched from the
npm registry by ``dev.py`` into ``web/assets/`` and served at ``/assets``. Every page
works without JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
SERVICE = "Pupil data sharing"
# the GOV.UK page template's one inline script, allowed by its hash in the CSP (no
# per-request nonce, so a public page's HTML can be reused between visitors)
INLINE_SCRIPT = (
    "document.body.className += ' js-enabled' + ('noModule' in "
    "HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');"
)
SCRIPT_HASH = (
    "sha256-"
    + base64.b64encode(hashlib.sha256(INLINE_SCRIPT.encode()).digest()).decode()
)
PUBLIC_FOR = 5.0  # seconds an anonymous visitor's public page is reused
# the keywords of every page route: HTML, and not part of the JSON API's description
PAGE_ROUTE: dict[str, Any] = {
    "response_class": HTMLResponse,
    "include_in_schema": False,
}
SERVE_STALE_FOR = 60.0  # seconds one is served at most while it is rendered again


def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(HERE / "templates"),
                PrefixLoader(
                    {"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}
                ),
            ]
        ),
        autoescape=select_autoescape(("html",), default_for_string=True),
        auto_reload=False,  # templates ship with the code: no stat per render
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["serviceName"] = SERVICE
    env.filters["days"] = _days
    env.globals["link"] = link
    return env


def _days(v: float | None) -> str:
    if v is None:
        return "not yet known"
    return "less than a day" if v < 1 else f"{v:g} days"


def link(href: str, text: object, download: bool = False) -> Markup:
    """A GOV.UK link with its address and text escaped (for table cells' html)."""
    extra = Markup(" download") if download else Markup("")
    return Markup('<a class="govuk-link" href="{}"{}>{}</a>').format(href, extra, text)


class _Csrf:
    """The page's CSRF token, made (with an anonymous session) only if a form on
    the page prints it: a public page read by a visitor starts no session."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def __str__(self) -> str:
        from pupilshare.web.context import csrf_token

        return csrf_token(self.request)

    def __html__(self) -> str:
        return str(self)


def page(
    request: Request, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with what every page needs: who is signed in, the CSRF token
    for its forms and the navigation for their roles."""
    from pupilshare.web.context import navigation

    env: Environment = request.app.state.web.templates
    actor = getattr(request.state, "actor", None)
    html = env.get_template(template).render(
        request=request,
        actor=actor,
        csrf=_Csrf(request),
        nav=navigation(request, actor),
        assetPath="/assets",
        assets_ready=(ASSETS / "govuk-frontend.min.css").exists(),
        **context,
    )
    return HTMLResponse(html, status_code=status)


async def public_page(request: Request, key: str, build: Any) -> HTMLResponse:
    """A page that is the same for every anonymous visitor; ``build()`` renders it
    (on a worker thread: it may read the store and the records).

    The rendered page is reused for ``PUBLIC_FOR`` seconds, answered here on the
    event loop; after that visitors still get it at once while it is rendered
    again in the background (by the reader's ``Refresher``), unless no one has
    asked for ``SERVE_STALE_FOR`` seconds. Signed-in users (their own navigation)
    always get a fresh one."""
    if getattr(request.state, "actor", None) is not None:
        return await run_in_threadpool(build)
    web = request.app.state.web
    hit = web.page_cache.get(key)
    if hit is not None:
        age = time.monotonic() - hit[0]
        if age < PUBLIC_FOR:
            return HTMLResponse(hit[1])
        if age < SERVE_STALE_FOR:
            web.reader.refresher.submit(
                ("page", key), lambda: _keep(request, web.page_cache, key, build)
            )
            return HTMLResponse(hit[1])
    return await run_in_threadpool(_keep, request, web.page_cache, key, build)


def _keep(
    request: Request, cache: dict[str, tuple[float, bytes]], key: str, build: Any
) -> HTMLResponse:
    response = build()
    if response.status_code == 200 and not hasattr(request.state, "set_cookie"):
        cache[key] = (time.monotonic(), bytes(response.body))
    return response
