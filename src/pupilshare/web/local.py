"""Local authority officers: their own authority's pupils, never another's.

The authority comes from the officer's active agreement (``governance.la_scope``);
asking for any other authority is refused before the store is read, and every
look-up is put to the one decision point, which records it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from pupilshare import governance, learners
from pupilshare.errors import Denied
from pupilshare.web.context import actor_of, records, state
from pupilshare.web.render import PAGE_ROUTE, page

router = APIRouter()
PAGE = 50


def _pupils(request: Request, la: str | None, page_no: int) -> dict[str, Any]:
    who = actor_of(request)
    assert who is not None
    with records(request) as session:
        scope = governance.la_scope(session, who, la)
    code = la or scope.la_codes[0]
    answer = governance.may_disclose(
        state(request).home,
        who.username,
        scope.agreement_id,
        list(scope.items),
        scope.purpose,
        {"la_codes": [code]},
        action="lookup",
    )
    if not answer.allowed:
        raise Denied(
            f"{who.username} may not look up these pupils now",
            list(answer.explanations),
        )
    got = state(request).reader.read(
        ("la", code, page_no),
        lambda s: learners.la_pupils(
            s, code, scope.items, scope.opt_out_scope, PAGE, (page_no - 1) * PAGE
        ),
        {"columns": [], "rows": [], "total": 0},
    )
    return {
        "la_code": code,
        "la_codes": list(scope.la_codes),
        "agreement": scope.agreement_id,
        "page": page_no,
        "per_page": PAGE,
        **got.value,
        "read_at": got.read_at.isoformat(),
        "stale": got.stale,
    }


@router.get("/local-authority/pupils", name="la_pupils_page", **PAGE_ROUTE)
def la_pupils_page(
    request: Request,
    la: str | None = None,
    page_no: int = Query(1, alias="page", ge=1, le=100000),
) -> HTMLResponse:
    return page(request, "la_pupils.html", data=_pupils(request, la, page_no))


@router.get(
    "/api/local-authority/pupils", name="api_la_pupils", tags=["local authority"]
)
def api_la_pupils(
    request: Request,
    la: str | None = Query(None, max_length=10),
    page: int = Query(1, ge=1, le=100000),
) -> dict[str, Any]:
    """A page of the officer's own authority's pupils (the items of their
    agreement); any other authority is refused."""
    return _pupils(request, la, page)
