"""The learner's own record: their personal learning record, who looked them up
(from the ledger), who may see their achievements, opting out, corrections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pupilshare import ledger, lrs
from pupilshare.errors import InvalidInput
from pupilshare.web.context import actor_of, state
from pupilshare.web.lrs import clock
from pupilshare.web.render import page

router = APIRouter()
PAGE = "/my-learning-record"


def _record(request: Request) -> dict[str, Any]:
    who = actor_of(request)
    assert who is not None
    web = state(request)

    def entries(digests: list[bytes]) -> list[dict[str, Any]]:
        key = ("lrs-plr", who.username)
        got = web.reader.read(key, lambda s: ledger.entries_for(s, digests), [])
        return got.value

    return lrs.my_record(web.home, who, entries, clock(request))


@router.get(
    PAGE,
    response_class=HTMLResponse,
    name="learner_record_page",
    include_in_schema=False,
)
def learner_record_page(request: Request, done: str = "") -> HTMLResponse:
    return page(request, "learner_record.html", data=_record(request), done=done[:40])


@router.get("/api/my-learning-record", name="api_learner_record", tags=["learners"])
def api_learner_record(request: Request) -> dict[str, Any]:
    """The signed-in learner's PLR: details, achievements with their source, who
    looked them up and when, who may see their achievements, opt-out."""
    return _record(request)


class Access(BaseModel):
    org_id: str = Field(max_length=64)
    grant: bool


class OptOutChoice(BaseModel):
    opt_out: bool


class CorrectionRequest(BaseModel):
    field: str = Field(max_length=40)
    value: str = Field(max_length=200)
    reason: str = Field("", max_length=2000)


def _access(request: Request, org_id: str, grant: bool) -> None:
    who = actor_of(request)
    assert who is not None
    lrs.set_access(state(request).home, who, org_id, grant, clock(request))


def _opt_out(request: Request, opt_out: bool) -> None:
    who = actor_of(request)
    assert who is not None
    lrs.set_opt_out(state(request).home, who, opt_out, clock(request))


def _correct(request: Request, field: str, value: str, reason: str) -> None:
    who = actor_of(request)
    assert who is not None
    lrs.request_correction(
        state(request).home, who, field, value, reason, clock(request)
    )


@router.post(f"{PAGE}/access", name="learner_access", include_in_schema=False)
async def learner_access(request: Request) -> Response:
    form = await request.form()
    choice = str(form.get("grant", ""))
    if choice not in ("yes", "no"):
        raise InvalidInput("grant: choose yes or no")
    await run_in_threadpool(
        _access, request, str(form.get("org_id", ""))[:64], choice == "yes"
    )
    return RedirectResponse(f"{PAGE}?done=access", status_code=303)


@router.post(f"{PAGE}/opt-out", name="learner_opt_out", include_in_schema=False)
async def learner_opt_out(request: Request) -> Response:
    form = await request.form()
    choice = str(form.get("opt_out", ""))
    if choice not in ("yes", "no"):
        raise InvalidInput("opt_out: choose yes or no")
    await run_in_threadpool(_opt_out, request, choice == "yes")
    return RedirectResponse(f"{PAGE}?done=opt-out", status_code=303)


@router.post(f"{PAGE}/correction", name="learner_correction", include_in_schema=False)
async def learner_correction(request: Request) -> Response:
    form = await request.form()
    await run_in_threadpool(
        _correct,
        request,
        str(form.get("field", ""))[:40],
        str(form.get("value", ""))[:200],
        str(form.get("reason", ""))[:2000],
    )
    return RedirectResponse(f"{PAGE}?done=correction", status_code=303)


@router.post(
    "/api/my-learning-record/access", name="api_learner_access", tags=["learners"]
)
def api_learner_access(request: Request, body: Access) -> dict[str, Any]:
    """Grant or withdraw an organisation's access to the learner's achievements."""
    _access(request, body.org_id, body.grant)
    return {"ok": True}


@router.post(
    "/api/my-learning-record/opt-out", name="api_learner_opt_out", tags=["learners"]
)
def api_learner_opt_out(request: Request, body: OptOutChoice) -> dict[str, Any]:
    """Opt out of (or back into) sharing achievements with any organisation."""
    _opt_out(request, body.opt_out)
    return {"ok": True}


@router.post(
    "/api/my-learning-record/correction",
    name="api_learner_correction",
    tags=["learners"],
)
def api_learner_correction(request: Request, body: CorrectionRequest) -> dict[str, Any]:
    """Ask for a detail of the record to be corrected."""
    _correct(request, body.field, body.value, body.reason)
    return {"ok": True}
