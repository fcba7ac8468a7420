"""The learner service over the web: approved organisations' users (and their
machine clients, with API tokens) register, verify and find learners; data
operations see the review queue and what the abuse watch flagged.

Each answer is recorded before it is sent (``lrs`` does it in the answer's own
transaction); a sealer seals the records into the ledger every ``SEAL_EVERY``
seconds, opening the pupil store only for that: under ``serve`` a process of its
own (``sealer_process``), in a test client a background thread (``StoreReader``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pupilshare import lrs
from pupilshare.errors import Busy, InvalidInput
from pupilshare.web.context import actor_of, state
from pupilshare.web.render import page

router = APIRouter()
log = logging.getLogger(__name__)
SEAL_EVERY = 2.0


class LearnerDetails(BaseModel):
    forenames: str = Field(max_length=200)
    surname: str = Field(max_length=200)
    date_of_birth: str = Field(max_length=20, description="YYYY-MM-DD")
    sex: str = Field(max_length=1, description="M, F or U")
    postcode: str = Field(max_length=10)
    upn: str | None = Field(None, max_length=13)


class Registration(LearnerDetails):
    post14: bool = Field(
        False, description="registering for a post-14 qualification (under 14s)"
    )


class Verification(BaseModel):
    uln: str = Field(max_length=10)
    surname: str = Field(max_length=200)
    date_of_birth: str = Field(max_length=20)


def clock(request: Request) -> datetime:
    """The service's clock (tests put their own in ``app.state.lrs_clock``)."""
    fn = getattr(request.app.state, "lrs_clock", None)
    return fn() if fn is not None else lrs.now()


_sealers: dict[int, threading.Thread] = {}
_sealers_lock = threading.Lock()


def _seal_loop(request_app: Any) -> None:
    web = request_app.state.web
    while True:
        time.sleep(SEAL_EVERY)
        try:
            if lrs.unsealed(web.home):
                web.reader.write(lambda store: lrs.seal(web.home, store), forget=False)
        except Busy:
            continue  # a command holds the store: next time
        except Exception as e:  # noqa: BLE001 - keep sealing; the rows stay unsealed
            log.warning("sealing the learner service's answers failed: %s", type(e))


def sealer_process(app: Any) -> subprocess.Popen:
    """The sealer as a process of its own (``pupilshare lrs seal --every``), for
    ``serve``: in the service's process a seal's Python work (reading the rows,
    building the ledger's batch, marking the rows sealed) held the interpreter
    for tens of milliseconds every ``SEAL_EVERY`` seconds while look-ups waited.
    It acts as the local operator, as the command line does, and stops when the
    service's process has ended; the app then starts no sealer thread."""
    app.state.lrs_no_sealer = True
    home = app.state.web.home
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PUPILSHARE_USER", "PUPILSHARE_TOKEN")
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pupilshare",
            "--home",
            str(home.root),
            "lrs",
            "seal",
            "--every",
            str(SEAL_EVERY),
            "--while-pid",
            str(os.getpid()),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def _sealer(request: Request) -> None:
    start_sealer(request.app)


def start_sealer(app: Any) -> None:
    """The sealer thread, started once per app: by ``serve`` before it listens
    (with what sealing imports loaded then, not during the first seal while
    look-ups wait), else at the first look-up (test clients)."""
    if getattr(app.state, "lrs_no_sealer", False) or id(app) in _sealers:
        return
    lrs.prepare_sealing()
    with _sealers_lock:
        if id(app) not in _sealers:
            t = threading.Thread(target=_seal_loop, args=(app,), daemon=True)
            t.start()
            _sealers[id(app)] = t


def _who(request: Request) -> Any:
    who = actor_of(request)
    assert who is not None  # the guard let a signed-in user through
    _sealer(request)
    return who


@router.post("/api/lrs/learners", name="api_lrs_register", tags=["learner service"])
def api_lrs_register(request: Request, body: Registration) -> dict[str, Any]:
    """Register a learner: ``matched`` (their ULN), ``issued`` (a new ULN),
    ``possible_match`` (possible match, not returned: queued for review) or
    ``not_eligible``."""
    details = body.model_dump(exclude={"post14"})
    return lrs.register(
        state(request).home, _who(request), details, body.post14, clock(request)
    )


@router.post("/api/lrs/verify", name="api_lrs_verify", tags=["learner service"])
def api_lrs_verify(request: Request, body: Verification) -> dict[str, Any]:
    """Verify a ULN with the learner's surname and date of birth: ``match`` with
    the agreement's items, or ``no_match`` (never which part was wrong)."""
    return lrs.verify(
        state(request).home,
        _who(request),
        body.uln,
        body.surname,
        body.date_of_birth,
        clock(request),
    )


@router.post("/api/lrs/search", name="api_lrs_search", tags=["learner service"])
def api_lrs_search(request: Request, body: LearnerDetails) -> dict[str, Any]:
    """Find a learner by details: ``match``, ``possible_match`` (nothing
    returned) or ``no_match``."""
    return lrs.search(
        state(request).home, _who(request), body.model_dump(), clock(request)
    )


def _watch(request: Request) -> dict[str, Any]:
    who = actor_of(request)
    assert who is not None
    home = state(request).home
    return {
        "flagged": lrs.flagged(home, who),
        "reviews": [r for r in lrs.list_reviews(home, who) if r["status"] == "open"],
        "agreements": lrs.list_agreements(home, who),
        "corrections": lrs.list_corrections(home, who),
        "unsealed": lrs.unsealed(home),
    }


@router.get(
    "/operations/learner-service",
    response_class=HTMLResponse,
    name="lrs_operations_page",
    include_in_schema=False,
)
def lrs_operations_page(request: Request, done: str = "") -> HTMLResponse:
    return page(request, "lrs_operations.html", data=_watch(request), done=done[:40])


@router.get("/api/lrs/watch", name="api_lrs_watch", tags=["learner service"])
def api_lrs_watch(request: Request) -> dict[str, Any]:
    """Organisations flagged by the abuse watch (events, open holds), the open
    review cases, the agreements, learners' open correction requests, and answers
    not yet sealed into the ledger."""
    return _watch(request)


class Decision(BaseModel):
    accept: bool = Field(description="true: correct the register; false: reject")
    note: str = Field("", max_length=2000, description="why (required to reject)")


def _decide(request: Request, correction_id: int, d: Decision) -> dict[str, Any]:
    who = actor_of(request)
    assert who is not None
    return lrs.decide_correction(
        state(request).home, who, correction_id, d.accept, d.note, clock(request)
    )


@router.get(
    "/api/lrs/corrections", name="api_lrs_corrections", tags=["learner service"]
)
def api_lrs_corrections(request: Request, status: str = "open") -> list[Any]:
    """Learners' correction requests: ``open`` (default), ``accepted``,
    ``rejected`` or ``all``, each with the learner's ULN and the register's value."""
    who = actor_of(request)
    assert who is not None
    return lrs.list_corrections(state(request).home, who, status[:20])


@router.post(
    "/api/lrs/corrections/{correction_id}",
    name="api_lrs_correction",
    tags=["learner service"],
)
def api_lrs_correction(
    request: Request, correction_id: int, body: Decision
) -> dict[str, Any]:
    """Accept a learner's correction request (the register changes) or reject it
    with a note the learner sees."""
    return _decide(request, correction_id, body)


@router.post(
    "/operations/learner-service/corrections/{correction_id}",
    name="lrs_correction_decide",
    include_in_schema=False,
)
async def lrs_correction_decide(request: Request, correction_id: int) -> Response:
    form = await request.form()
    choice = str(form.get("decision", ""))
    if choice not in ("accept", "reject"):
        raise InvalidInput("decision: accept or reject")
    d = Decision(accept=choice == "accept", note=str(form.get("note", ""))[:2000])
    await run_in_threadpool(_decide, request, correction_id, d)
    return RedirectResponse("/operations/learner-service?done=correction", 303)


class AchievementRow(BaseModel):
    uln: str = Field(max_length=10)
    surname: str = Field(max_length=200)
    date_of_birth: str = Field(max_length=20)
    qualification: str = Field(max_length=200)
    subject: str = Field(max_length=200)
    grade: str = Field(max_length=20)
    awarded_on: str = Field(max_length=20)


class AchievementBatch(BaseModel):
    name: str = Field("request", max_length=100, description="the batch's name")
    achievements: list[AchievementRow] = Field(max_length=100_000)


@router.post(
    "/api/lrs/achievements", name="api_lrs_achievements", tags=["learner service"]
)
def api_lrs_achievements(request: Request, body: AchievementBatch) -> dict[str, Any]:
    """Submit results against ULNs (an awarding organisation): one or many, all
    loaded or none, with ``name:line:field:reason`` for each problem."""
    rows = [r.model_dump() for r in body.achievements]
    return lrs.submit_achievements(
        state(request).home, _who(request), rows, body.name, clock(request)
    )


@router.post(
    "/api/lrs/achievements.csv",
    name="api_lrs_achievements_csv",
    tags=["learner service"],
)
async def api_lrs_achievements_csv(request: Request, name: str = "upload.csv") -> Any:
    """Submit a CSV of results (columns uln, surname, date_of_birth, qualification,
    subject, grade, awarded_on; header on line 1): all loaded or none, with
    ``file:line:field:reason``."""
    raw = await request.body()
    if len(raw) > 50_000_000:
        raise InvalidInput("the file is over 50 MB; split it")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name[:100]}:1:file:not UTF-8 text") from None
    return await run_in_threadpool(
        lrs.submit_achievements,
        state(request).home,
        _who(request),
        text,
        name[:100],
        clock(request),
    )


@router.post(
    "/api/lrs/achievements/lookup",
    name="api_lrs_learner_achievements",
    tags=["learner service"],
)
def api_lrs_learner_achievements(
    request: Request, body: Verification
) -> dict[str, Any]:
    """A learner's achievements, for an organisation the learner granted access
    to and only while they have not opted out; otherwise ``not_shared``."""
    return lrs.achievements_for(
        state(request).home,
        _who(request),
        body.uln,
        body.surname,
        body.date_of_birth,
        clock(request),
    )


@router.get("/api/lrs/cases/{case_id}", name="api_lrs_case", tags=["learner service"])
def api_lrs_case(request: Request, case_id: int) -> dict[str, Any]:
    """The organisation's own registration held for review: ``open``, or
    ``resolved`` with the learner (the agreement's items)."""
    return lrs.review_case(state(request).home, _who(request), case_id, clock(request))
