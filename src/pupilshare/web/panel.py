"""The approval panel and the Chief Statistician: the queue, an application beside
its gateway's limits and the rules' answer, the panel's record and the decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pupilshare import governance
from pupilshare.errors import InvalidInput, PupilshareError
from pupilshare.web.context import actor_of, records, state
from pupilshare.web.render import PAGE_ROUTE, page

router = APIRouter()


def _queue(request: Request) -> dict[str, Any]:
    with records(request) as session:
        who = actor_of(request)
        return {
            "submitted": governance.list_agreements(session, who, "submitted"),
            "service_level": governance.service_level(session),
        }


@router.get("/panel", name="panel_queue", **PAGE_ROUTE)
def panel_queue(request: Request) -> HTMLResponse:
    return page(request, "panel_queue.html", queue=_queue(request))


@router.get("/api/panel", name="api_panel_queue", tags=["panel"])
def api_panel_queue(request: Request) -> dict[str, Any]:
    """Applications awaiting the panel and a decision, and the service level."""
    return _queue(request)


def _application(request: Request, agreement_id: str) -> dict[str, Any]:
    with records(request) as session:
        return governance.review(session, actor_of(request), agreement_id)


@router.get("/panel/{agreement_id}", name="panel_application", **PAGE_ROUTE)
def panel_application(request: Request, agreement_id: str) -> HTMLResponse:
    return page(
        request,
        "panel_application.html",
        app=_application(request, agreement_id),
        errors=[],
    )


@router.get("/api/panel/{agreement_id}", name="api_panel_application", tags=["panel"])
def api_panel_application(request: Request, agreement_id: str) -> dict[str, Any]:
    """An application beside its gateway's limits and the rules' answer."""
    return _application(request, agreement_id)


class View(BaseModel):
    member: str = Field(max_length=64)
    view: str = Field(default="", max_length=20)
    reasons: str = Field(default="", max_length=4000)
    conflict: str = Field(default="", max_length=4000)


class PanelRecord(BaseModel):
    views: list[View] = Field(max_length=50)
    conditions: list[str] = Field(default_factory=list, max_length=50)


def _record(request: Request, agreement_id: str, rec: PanelRecord) -> dict[str, Any]:
    with records(request) as session:
        r = governance.record_panel(
            session,
            actor_of(request),
            state(request).home,
            agreement_id,
            [v.model_dump() for v in rec.views],
            rec.conditions,
        )
        return {"review": r.review_id, "quorate": bool(r.quorate), "quorum": r.quorum}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


async def _redo(request: Request, agreement_id: str, e: PupilshareError) -> Response:
    """The application page again, with the refusal's reasons in an error summary."""
    app = await run_in_threadpool(_application, request, agreement_id)
    return page(
        request,
        "panel_application.html",
        status=e.status,
        app=app,
        errors=[e.message, *e.errors],
    )


@router.post(
    "/panel/{agreement_id}/record", name="panel_record", include_in_schema=False
)
async def panel_record(request: Request, agreement_id: str) -> Response:
    form = await request.form()
    views = []
    for member in form.getlist("member"):
        m = str(member)
        view = str(form.get(f"view:{m}", ""))
        conflict = str(form.get(f"conflict:{m}", ""))
        if view == "absent" and not conflict.strip():
            continue
        views.append(
            View(
                member=m,
                view="" if view == "absent" else view,
                reasons=str(form.get(f"reasons:{m}", "")),
                conflict=conflict.strip(),
            )
        )
    rec = PanelRecord(views=views, conditions=_lines(str(form.get("conditions", ""))))
    try:
        await run_in_threadpool(_record, request, agreement_id, rec)
    except (InvalidInput, PupilshareError) as e:
        if e.status >= 500 or e.status in (401, 403, 404):
            raise
        return await _redo(request, agreement_id, e)
    return RedirectResponse(f"/panel/{agreement_id}?recorded=1", status_code=303)


@router.post(
    "/api/panel/{agreement_id}/record",
    name="api_panel_record",
    tags=["panel"],
    status_code=201,
)
def api_panel_record(
    request: Request, agreement_id: str, rec: PanelRecord
) -> dict[str, Any]:
    """Record a sitting of the panel: each member's view with reasons, conflicts."""
    return _record(request, agreement_id, rec)


class Decision(BaseModel):
    approve: bool
    reasons: str = Field(max_length=4000)
    conditions: list[str] = Field(default_factory=list, max_length=50)


def _decide(request: Request, agreement_id: str, d: Decision) -> dict[str, Any]:
    with records(request) as session:
        out, status = governance.decide_agreement(
            session, actor_of(request), agreement_id, d.approve, d.reasons, d.conditions
        )
        return {"id": agreement_id, "outcome": out.outcome, "status": status}


@router.post("/panel/{agreement_id}/decide", name="decide", include_in_schema=False)
async def decide(request: Request, agreement_id: str) -> Response:
    form = await request.form()
    outcome = str(form.get("outcome", ""))
    try:
        if outcome not in ("approve", "reject"):
            raise InvalidInput("choose whether to approve or reject the application")
        d = Decision(
            approve=outcome == "approve",
            reasons=str(form.get("reasons", "")),
            conditions=_lines(str(form.get("conditions", ""))),
        )
        await run_in_threadpool(_decide, request, agreement_id, d)
    except PupilshareError as e:
        if e.status in (401, 403, 404) or e.status >= 500:
            raise
        return await _redo(request, agreement_id, e)
    return RedirectResponse(f"/panel/{agreement_id}?decided=1", status_code=303)


@router.post("/api/panel/{agreement_id}/decide", name="api_decide", tags=["panel"])
def api_decide(request: Request, agreement_id: str, d: Decision) -> dict[str, Any]:
    """The Chief Statistician's decision, with reasons (never on their own
    submission, only after a quorate panel)."""
    return _decide(request, agreement_id, d)


def _activate(request: Request, agreement_id: str) -> dict[str, Any]:
    with records(request) as session:
        ag = governance.activate(session, actor_of(request), agreement_id)
        return {"id": ag.agreement_id, "status": ag.status}


@router.post("/panel/{agreement_id}/activate", name="activate", include_in_schema=False)
async def activate(request: Request, agreement_id: str) -> Response:
    try:
        await run_in_threadpool(_activate, request, agreement_id)
    except PupilshareError as e:
        if e.status in (401, 403, 404) or e.status >= 500:
            raise
        return await _redo(request, agreement_id, e)
    return RedirectResponse(f"/panel/{agreement_id}?activated=1", status_code=303)


@router.post("/api/panel/{agreement_id}/activate", name="api_activate", tags=["panel"])
def api_activate(request: Request, agreement_id: str) -> dict[str, Any]:
    """Make an approved agreement active, within its term."""
    return _activate(request, agreement_id)
