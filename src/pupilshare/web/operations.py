"""Data operations: collections with their errors and warnings, and the clerical
review queue with the evidence for each candidate match, accept and reject.

A review decision is the one write the service makes to the pupil store: it opens
the store for that decision only (``StoreReader.write``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from pupilshare import collect, match
from pupilshare.errors import InvalidInput
from pupilshare.web.context import actor_of, state
from pupilshare.web.render import PAGE_ROUTE, page

router = APIRouter()


def _collections(request: Request) -> dict[str, Any]:
    got = state(request).reader.read(
        "collections", collect.overview, {"loaded": [], "rejected": []}
    )
    return {**got.value, "read_at": got.read_at.isoformat(), "stale": got.stale}


@router.get("/operations/collections", name="collections_page", **PAGE_ROUTE)
def collections_page(request: Request) -> HTMLResponse:
    return page(request, "collections.html", data=_collections(request))


@router.get("/api/collections", name="api_collections", tags=["operations"])
def api_collections(request: Request) -> dict[str, Any]:
    """Loaded files with their first warnings; rejected files with their first
    errors as file:line:field:reason."""
    return _collections(request)


def _reviews(request: Request, status: str) -> dict[str, Any]:
    if status not in ("pending", "accepted", "rejected", "all"):
        raise InvalidInput("status is one of pending, accepted, rejected, all")

    def read(store: Any) -> list[dict[str, Any]]:
        return match.list_reviews(store, status) if store.exists("match_review") else []

    got = state(request).reader.read(("reviews", status), read, [])
    return {
        "status": status,
        "items": got.value,
        "read_at": got.read_at.isoformat(),
        "stale": got.stale,
    }


@router.get("/operations/reviews", name="reviews_page", **PAGE_ROUTE)
def reviews_page(request: Request, status: str = "pending") -> HTMLResponse:
    return page(request, "reviews.html", queue=_reviews(request, status))


@router.get("/api/reviews", name="api_reviews", tags=["operations"])
def api_reviews(request: Request, status: str = "pending") -> dict[str, Any]:
    """The clerical review queue, most likely matches first."""
    return _reviews(request, status)


def _review(request: Request, review_id: int) -> dict[str, Any]:
    def read(store: Any) -> dict[str, Any]:
        return match.show_review(store, review_id)

    return state(request).reader.read(("review", review_id), read, {}).value


@router.get("/operations/reviews/{review_id}", name="review_page", **PAGE_ROUTE)
def review_page(request: Request, review_id: int) -> HTMLResponse:
    return page(request, "review.html", item=_review(request, review_id))


@router.get("/api/reviews/{review_id}", name="api_review", tags=["operations"])
def api_review(request: Request, review_id: int) -> dict[str, Any]:
    """One review item: the records, the candidate pupil and each comparison's
    evidence."""
    return _review(request, review_id)


class ReviewDecision(BaseModel):
    accept: bool


def _decide(request: Request, review_id: int, accept: bool) -> dict[str, Any]:
    who = actor_of(request)
    assert who is not None
    do = match.accept_review if accept else match.reject_review
    state(request).reader.write(lambda store: do(store, review_id, who.username))
    return {"review_id": review_id, "status": "accepted" if accept else "rejected"}


@router.post(
    "/operations/reviews/{review_id}", name="review_decide", include_in_schema=False
)
async def review_decide(request: Request, review_id: int) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    outcome = str(form.get("outcome", ""))
    if outcome not in ("accept", "reject"):
        raise InvalidInput("choose accept (same pupil) or reject (different pupils)")
    await run_in_threadpool(_decide, request, review_id, outcome == "accept")
    return RedirectResponse(f"/operations/reviews?decided={review_id}", status_code=303)


@router.post("/api/reviews/{review_id}", name="api_review_decide", tags=["operations"])
def api_review_decide(
    request: Request, review_id: int, decision: ReviewDecision
) -> dict[str, Any]:
    """Accept (same pupil: merged) or reject (different pupils) a review item."""
    return _decide(request, review_id, decision.accept)
