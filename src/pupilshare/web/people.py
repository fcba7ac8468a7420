"""Signing in and out, and who you are signed in as."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pupilshare.errors import Denied
from pupilshare.web import signin
from pupilshare.web.context import RateLimited, actor_of, state
from pupilshare.web.render import PAGE_ROUTE, page
from pupilshare.web.sessions import COOKIE

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this service (never ``//host`` or a scheme)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/account"


@router.get("/sign-in", name="sign_in_form", **PAGE_ROUTE)
def sign_in_form(request: Request, next: str = "/account") -> HTMLResponse:
    return page(request, "sign_in.html", next=_safe_next(next), errors=[])


@router.post("/sign-in", name="sign_in", include_in_schema=False)
def sign_in(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    code: str = Form(""),
    next: str = Form("/account"),
) -> Response:
    """Check the rate limit, then the credentials (identity records the attempt);
    a new session token on success."""
    web = state(request)
    address = request.client.host if request.client else "unknown"
    username = username.strip()
    wait = max(web.by_address.hit(address), web.by_username.hit(username.lower()))
    if wait:
        raise RateLimited(
            "too many sign-in attempts; wait a few minutes and try again", wait
        )
    errors = []
    if not username:
        errors.append(("username", "Enter your username"))
    if not password:
        errors.append(("password", "Enter your password"))
    if not errors:
        try:
            who = signin.sign_in(
                web.home, username, password, code.strip(), source=f"web:{address}"
            )
        except Denied as e:
            errors.append(("username", e.message))
        else:
            web.sessions.end(request.cookies.get(COOKIE))
            token, _ = web.sessions.start(who.username, getattr(who, "via", ""))
            request.state.set_cookie = token
            return RedirectResponse(_safe_next(next), status_code=303)
    status = 401 if username and password else 400
    return page(
        request,
        "sign_in.html",
        status=status,
        next=_safe_next(next),
        errors=errors,
        username=username,
    )


@router.post("/sign-out", name="sign_out", include_in_schema=False)
def sign_out(request: Request) -> Response:
    state(request).sessions.end(request.cookies.get(COOKIE))
    request.state.clear_cookie = True
    return RedirectResponse("/?signed-out=1", status_code=303)


def _me(request: Request) -> dict[str, Any]:
    who = actor_of(request)
    assert who is not None  # the guard let only signed-in users here
    return {
        "username": who.username,
        "organisation": who.org_id,
        "roles": sorted(who.roles),
        "via": getattr(who, "via", ""),
    }


@router.get("/account", name="account_page", **PAGE_ROUTE)
def account_page(request: Request) -> HTMLResponse:
    return page(request, "account.html", me=_me(request))


@router.get("/api/me", name="api_me", tags=["account"])
def api_me(request: Request) -> dict[str, Any]:
    """Who this session or token acts as, and their roles."""
    return _me(request)
