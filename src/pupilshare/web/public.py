"""Pages for everyone, without signing in: the register of shares, the privacy
notice generated from the live agreements, and the published statistics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from pupilshare import governance, release
from pupilshare.web.charts import pivot, trend_chart
from pupilshare.web.context import records, state
from pupilshare.web.render import PAGE_ROUTE, page, public_page

router = APIRouter()


@router.get("/", name="home", **PAGE_ROUTE)
async def home(request: Request) -> HTMLResponse:
    return await public_page(request, "home", lambda: page(request, "home.html"))


@router.get("/healthz", name="health", tags=["public"])
def health() -> dict[str, Any]:
    """The service is up (the store may still be busy with a run)."""
    return {"ok": True}


def _register(request: Request) -> dict[str, Any]:
    got = state(request).reader.read(
        "releases", lambda store: release.published().releases(store), []
    )
    with records(request) as session:
        view = governance.register_view(session, got.value)
    return {**view, "read_at": got.read_at.isoformat(), "stale": got.stale}


@router.get("/register", name="register_page", **PAGE_ROUTE)
async def register_page(request: Request) -> HTMLResponse:
    return await public_page(
        request,
        "register",
        lambda: page(request, "register.html", reg=_register(request)),
    )


@router.get("/api/register", name="api_register", tags=["public"])
def api_register(request: Request) -> dict[str, Any]:
    """The public register: every share in force with the releases made under it,
    and the shares no longer in force."""
    return _register(request)


def _notice(request: Request) -> list[dict[str, Any]]:
    with records(request) as session:
        return governance.notice_view(session)


@router.get("/privacy-notice", name="notice_page", **PAGE_ROUTE)
async def notice_page(request: Request) -> HTMLResponse:
    return await public_page(
        request,
        "notice",
        lambda: page(request, "notice.html", sections=_notice(request)),
    )


@router.get("/api/privacy-notice", name="api_notice", tags=["public"])
def api_notice(request: Request) -> dict[str, Any]:
    """The privacy notice, generated from the agreements in force today."""
    return {"sections": _notice(request)}


def _statistics(request: Request) -> dict[str, Any]:
    got = state(request).reader.read(
        "statistics", lambda store: release.published().statistics(store), []
    )
    return {
        "releases": got.value,
        "read_at": got.read_at.isoformat(),
        "stale": got.stale,
    }


@router.get("/statistics", name="statistics_page", **PAGE_ROUTE)
async def statistics_page(request: Request) -> HTMLResponse:
    return await public_page(request, "statistics", lambda: _statistics_page(request))


def _statistics_page(request: Request) -> HTMLResponse:
    stats = _statistics(request)
    charts = {
        (r["release_id"], t["name"]): trend_chart(t["trend"], t["name"])
        for r in stats["releases"]
        for t in r["tables"]
        if t["trend"]
    }
    crosses = {
        (r["release_id"], t["name"]): pivot(t["columns"], t["rows"])
        for r in stats["releases"]
        for t in r["tables"]
    }
    return page(request, "statistics.html", stats=stats, charts=charts, crosses=crosses)


@router.get("/api/statistics", name="api_statistics", tags=["public"])
def api_statistics(request: Request) -> dict[str, Any]:
    """Published statistics: aggregate releases made for the public, exactly as
    released (suppressed cells are null)."""
    return _statistics(request)


@router.get("/accessibility", name="accessibility_page", **PAGE_ROUTE)
def accessibility_page(request: Request) -> HTMLResponse:
    return page(request, "accessibility.html")
