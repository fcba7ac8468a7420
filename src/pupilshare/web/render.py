"""Pages: Jinja2 templates in the GOV.UK Design System's patterns.

Templates extend ``govuk_frontend_jinja``'s page template and call its component
macros; the compiled GOV.UK Frontend CSS, JS, fonts and images are fetched from the
npm registry by ``dev.py`` into ``web/assets/`` and served at ``/assets``. Every page
works without JavaScript.
"""

from __future__ import annotations

import secrets
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

HERE = Path(__file__).parent
ASSETS = HERE / "assets"
SERVICE = "Pupil data sharing"


def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([
            FileSystemLoader(HERE / "templates"),
            PrefixLoader({"govuk_frontend_jinja":
                          PackageLoader("govuk_frontend_jinja")}),
        ]),  # fmt: skip
        autoescape=select_autoescape(("html",), default_for_string=True),
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


def page(request: Request, template: str, status: int = 200,
         **context: Any) -> HTMLResponse:  # fmt: skip
    """Render a page with what every page needs: who is signed in, the CSRF token
    for its forms, the navigation for their roles, and a CSP nonce."""
    from pupilshare.web.context import csrf_token, navigation

    nonce = secrets.token_urlsafe(16)
    request.state.csp_nonce = nonce
    env: Environment = request.app.state.web.templates
    actor = getattr(request.state, "actor", None)
    html = env.get_template(template).render(
        request=request, actor=actor, csrf=csrf_token(request),
        nav=navigation(request, actor), cspNonce=nonce, assetPath="/assets",
        assets_ready=(ASSETS / "govuk-frontend.min.css").exists(), **context,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status)
