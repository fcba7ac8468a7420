"""Parents and pupils: ask for a copy of a pupil's data, follow the request, download
the answer, and register or withdraw an opt-out.

Anyone may ask, without an account: the request is recorded with the notice's rules
applied (a pupil of 12 or over asks for themself; a parent for a child under 12, or
for an older child with the child's consent) and waits for the department to check
who asked, as a good public service does before it hands over anyone's records. An
account (role ``parent_or_pupil``), made and linked to its pupils by the department
after that check (``pupilshare accounts link``), follows its requests, downloads the
answers and registers opt-outs, only ever for its own linked pupils: a request id
or pupil it does not hold answers "not found". Every write goes through the same
``rights`` functions as the command line, for the length of one call on the store.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from pupilshare import rights
from pupilshare.errors import Denied, InvalidInput, NotFound
from pupilshare.governance import Actor
from pupilshare.web.context import RateLimited, actor_of, state
from pupilshare.web.render import page
from pupilshare.web.sessions import RateLimit

router = APIRouter()
OWN = "own_rights"  # the permission of parents' and pupils' accounts
ASKS_PER_HOUR = 10  # online requests from one address
STAGES = (
    ("received", "Request received"),
    ("checked", "Identity checked"),
    ("answered", "Answered"),
)
STATUS_TEXT = {
    "awaiting_identity": "Waiting for us to check who asked",
    "open": "Being prepared",
    "answered": "Answered",
    "no_match": "Answered: no records found",
    "several": "Answered: more details needed",
}


def _account(request: Request) -> Actor | None:
    """The signed-in parent's or pupil's account, if that is who is asking."""
    who = actor_of(request)
    return who if who is not None and who.may(OWN) else None


def _own(request: Request) -> Actor:
    who = _account(request)
    if who is None:  # the route table lets only these accounts here
        raise Denied("only a parent's or pupil's account may use this page")
    return who


def _read(request: Request, key: tuple, fn: Any, empty: Any) -> Any:
    return state(request).reader.read(key, fn, empty).value


def _limit(request: Request) -> None:
    limits = getattr(request.app.state, "access_requests_limit", None)
    if limits is None:
        limits = request.app.state.access_requests_limit = RateLimit(
            ASKS_PER_HOUR, 3600
        )
    address = request.client.host if request.client else "unknown"
    wait = limits.hit(address)
    if wait:
        raise RateLimited("too many requests from here; try again later", wait)


# -- the start page and the request form (anyone) ---------------------------------
@router.get(
    "/your-data",
    response_class=HTMLResponse,
    name="your_data_page",
    include_in_schema=False,
)
def your_data_page(request: Request) -> HTMLResponse:
    return page(request, "your_data.html", account=_account(request))


def _form_context(request: Request) -> dict[str, Any]:
    who = _account(request)
    links = (
        _read(
            request,
            ("links", who.username),
            lambda s: rights.account_links(s, who.username),
            [],
        )
        if who
        else []
    )
    return {"account": who, "links": links}


@router.get(
    "/your-data/request",
    response_class=HTMLResponse,
    name="access_request_form",
    include_in_schema=False,
)
def access_request_form(request: Request) -> HTMLResponse:
    return page(
        request, "access_request.html", form={}, errors=[], **_form_context(request)
    )


FIELDS = {  # the error prefixes -> the form's fields
    "requester": "requester",
    "requester_name": "requester_name",
    "contact": "contact",
    "request:forename": "forename",
    "request:surname": "surname",
    "request:date_of_birth": "dob-day",
}


def _errors(e: InvalidInput | Denied) -> list[tuple[str, str]]:
    out = []
    for err in e.errors or [e.message]:
        prefix, _, reason = err.rpartition(": ")
        field = FIELDS.get(prefix.split(": ")[0], "")
        text = {
            "forename": "Enter the pupil's first name",
            "surname": "Enter the pupil's last name",
            "dob-day": "Enter the pupil's date of birth as a real date in the past",
        }.get(field, reason or err)
        if not field and "consent" in err:
            field, text = (
                "child_consent",
                ("The pupil is 12 or over: tell us how they agreed to this request"),
            )
        out.append((field or "requester", text if field else err))
    return out


def _dob(day: str, month: str, year: str) -> str:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return f"{year}-{month}-{day}"


@router.post("/your-data/request", name="access_request", include_in_schema=False)
def access_request(
    request: Request,
    link: str = Form(""),
    requester: str = Form(""),
    requester_name: str = Form(""),
    contact: str = Form(""),
    forename: str = Form(""),
    surname: str = Form(""),
    dob_day: str = Form("", alias="dob-day"),
    dob_month: str = Form("", alias="dob-month"),
    dob_year: str = Form("", alias="dob-year"),
    upn: str = Form(""),
    child_consent: str = Form(""),
) -> Response:
    """Record the request (one of the account's linked pupils, or the details
    given), then show its reference; the form again, with what to fix, if not."""
    form = _as_sent(locals())
    errors: list[tuple[str, str]] = []
    try:
        rid = _ask(
            request,
            int(link) if link else None,
            AskedFor.model_construct(  # the form's strings as sent, checked by _ask
                requester=requester,
                requester_name=requester_name,
                contact=contact,
                forename=forename,
                surname=surname,
                date_of_birth=_dob(dob_day, dob_month, dob_year),
                upn=upn,
                child_consent=child_consent,
            ),
        )
    except ValueError:
        errors.append(("link", "Choose one of your pupils"))
    except NotFound:
        errors.append(("link", "Choose one of your pupils"))
    except (InvalidInput, Denied) as e:
        errors += _errors(e)
    if errors:
        return page(
            request,
            "access_request.html",
            status=400,
            form=form,
            errors=errors,
            **_form_context(request),
        )
    return RedirectResponse(f"/your-data/request/{rid}/received", status_code=303)


class AskedFor(BaseModel):
    """An access request as a person gives it: who asks, how to reach them, and the
    pupil's details (or, for an account, one of its linked pupils)."""

    requester: str = Field("", max_length=10)
    requester_name: str = Field("", max_length=200)
    contact: str = Field("", max_length=300)
    forename: str = Field("", max_length=100)
    surname: str = Field("", max_length=100)
    date_of_birth: str = Field("", max_length=10)
    upn: str = Field("", max_length=13)
    child_consent: str = Field("", max_length=300)
    link_id: int | None = Field(None, ge=1, le=10**12)


def _ask(request: Request, link: int | None, ask: AskedFor) -> str:
    """Record one access request, for the form and the API alike: an account's
    linked pupil, else the details given (rate-limited per address); the notice's
    rules are the rights area's. Raises InvalidInput naming each field to fix."""
    who = _account(request)
    consent = ask.child_consent.strip() or None
    if link is not None and who is not None:
        return state(request).reader.write(
            lambda s: rights.request_for_link(s, who.username, link, consent)
        )
    _limit(request)
    missing = []
    if ask.requester not in ("pupil", "parent"):
        missing.append("requester: Say whether you are the pupil or a parent")
    if not ask.requester_name.strip():
        missing.append("requester_name: Enter your full name")
    if not ask.contact.strip():
        missing.append("contact: Enter an email or postal address")
    try:
        subject = rights.subject(
            ask.forename, ask.surname, ask.date_of_birth, ask.upn or None
        )
    except InvalidInput as e:
        raise InvalidInput(
            "the request is not complete", missing + (e.errors or [e.message])
        ) from None
    if missing:
        raise InvalidInput("the request is not complete", missing)
    return state(request).reader.write(
        lambda s: rights.request_access(
            s,
            subject,
            ask.requester,
            ask.requester_name.strip(),
            ask.contact.strip(),
            consent,
            who.username if who else None,
        )
    )


@router.post("/api/your-data/requests", name="api_access_request", tags=["your data"])
def api_access_request(request: Request, ask: AskedFor) -> dict[str, Any]:
    """Ask for a copy of a pupil's data (anyone; with a session's CSRF token or an
    account's API token): the request's reference, waiting for the identity check."""
    rid = _ask(request, ask.link_id, ask)
    linked = ask.link_id is not None and _account(request) is not None
    return {
        "request_id": rid,
        # an account's linked pupil was checked when linked: the request opens at once
        "status": "open" if linked else "awaiting_identity",
    }


def _as_sent(values: dict[str, Any]) -> dict[str, str]:
    """The form as sent, to show again (never the request object)."""
    return {k: v for k, v in values.items() if isinstance(v, str)}


@router.get(
    "/your-data/request/{request_id}/received",
    response_class=HTMLResponse,
    name="access_request_received",
    include_in_schema=False,
)
def access_request_received(request: Request, request_id: str) -> HTMLResponse:
    """The confirmation: only the reference (shown to whoever holds the link: the
    page says nothing about the pupil)."""
    if not request_id.startswith("SAR-") or len(request_id) > 40:
        raise NotFound("there is no page at this address")
    return page(
        request,
        "access_request_done.html",
        request_id=request_id,
        account=_account(request),
    )


# -- an account's own requests ------------------------------------------------------
def _requests(request: Request, who: Actor) -> list[dict[str, Any]]:
    rows = _read(
        request,
        ("requests", who.username),
        lambda s: rights.account_requests(s, who.username),
        [],
    )
    return [_view(r) for r in rows]


def _view(req: dict[str, Any]) -> dict[str, Any]:
    """What the requester sees of a request: its progress, never its internals."""
    done = req["status"] not in ("awaiting_identity", "open")
    checked = req["status"] != "awaiting_identity"
    return {
        "request_id": req["request_id"],
        "pupil": f"{req['forename']} {req['surname']}",
        "date_of_birth": str(req["date_of_birth"]),
        "requester": req["requester"],
        "received": str(req["received_at"])[:10],
        "due": str(req["due_date"]) if checked else None,
        "status": req["status"],
        "status_text": STATUS_TEXT.get(req["status"], req["status"]),
        "stages": {
            "received": str(req["received_at"])[:10],
            "checked": (str(req["identity_checked_at"] or "")[:10] or "done")
            if checked
            else None,
            "answered": str(req["answered_at"])[:10] if done else None,
        },
        "answered": done,
        "downloads": (
            {
                "html": f"/your-data/requests/{req['request_id']}/response.html",
                "json": f"/your-data/requests/{req['request_id']}/response.json",
            }
            if done and req.get("pack_dir")
            else {}
        ),
    }


@router.get(
    "/your-data/requests",
    response_class=HTMLResponse,
    name="my_requests_page",
    include_in_schema=False,
)
def my_requests_page(request: Request) -> HTMLResponse:
    who = _own(request)
    return page(
        request,
        "my_requests.html",
        requests=_requests(request, who),
        links=_form_context(request)["links"],
    )


@router.get("/api/your-data/requests", name="api_my_requests", tags=["your data"])
def api_my_requests(request: Request) -> list[dict[str, Any]]:
    """The subject access requests this account follows, with their progress."""
    return _requests(request, _own(request))


def _one(request: Request, request_id: str) -> dict[str, Any]:
    who = _own(request)
    return _read(
        request,
        ("request", who.username, request_id),
        lambda s: rights.account_request(s, who.username, request_id),
        None,
    ) or _missing(request_id)


def _missing(request_id: str) -> dict[str, Any]:
    raise NotFound(f"you have no request {request_id}")


@router.get(
    "/your-data/requests/{request_id}",
    response_class=HTMLResponse,
    name="my_request_page",
    include_in_schema=False,
)
def my_request_page(request: Request, request_id: str) -> HTMLResponse:
    return page(request, "my_request.html", req=_view(_one(request, request_id)))


@router.get(
    "/api/your-data/requests/{request_id}", name="api_my_request", tags=["your data"]
)
def api_my_request(request: Request, request_id: str) -> dict[str, Any]:
    """One request this account follows: its stages and, once answered, where to
    download the response. Any other request is not found."""
    return _view(_one(request, request_id))


@router.get(
    "/your-data/requests/{request_id}/response.{kind}",
    response_class=FileResponse,
    name="my_request_pack",
    include_in_schema=False,
)
def my_request_pack(request: Request, request_id: str, kind: str) -> FileResponse:
    if kind not in ("html", "json"):
        raise NotFound("there is no page at this address")
    path = rights.pack_file(_one(request, request_id), kind)
    if path is None:
        raise NotFound(f"{request_id} has no response to download yet")
    return FileResponse(
        path,
        filename=f"{request_id}.{kind}",
        content_disposition_type="attachment",
        media_type="text/html" if kind == "html" else "application/json",
    )


# -- an account's opt-outs ----------------------------------------------------------
def _opt_outs(request: Request, who: Actor) -> list[dict[str, Any]]:
    return _read(
        request,
        ("opt_outs", who.username),
        lambda s: rights.account_opt_outs(s, who.username),
        [],
    )


@router.get(
    "/your-data/opt-outs",
    response_class=HTMLResponse,
    name="my_opt_outs_page",
    include_in_schema=False,
)
def my_opt_outs_page(request: Request, done: str = "") -> HTMLResponse:
    who = _own(request)
    return page(
        request,
        "my_opt_outs.html",
        pupils=_opt_outs(request, who),
        types=rights.opt_out_types(),
        done=done[:200],
        errors=[],
    )


@router.get("/api/your-data/opt-outs", name="api_my_opt_outs", tags=["your data"])
def api_my_opt_outs(request: Request) -> list[dict[str, Any]]:
    """For each pupil linked to this account: the opt-outs in force."""
    return _opt_outs(request, _own(request))


def _change(request: Request, link_id: int, optout_type: str, action: str) -> Any:
    who = _own(request)
    if action not in ("add", "withdraw"):
        raise InvalidInput("action must be add or withdraw")
    return state(request).reader.write(
        lambda s: rights.opt_out_for_link(s, who.username, link_id, optout_type, action)
    )


@router.post("/your-data/opt-outs", name="my_opt_out", include_in_schema=False)
def my_opt_out(
    request: Request,
    link: str = Form(""),
    optout_type: str = Form(""),
    action: str = Form(""),
) -> Response:
    try:
        outcome = _change(request, int(link), optout_type, action)
    except ValueError:
        raise NotFound("no such pupil linked to your account") from None
    except (InvalidInput, Denied) as e:
        who = _own(request)
        return page(
            request,
            "my_opt_outs.html",
            status=400,
            pupils=_opt_outs(request, who),
            types=rights.opt_out_types(),
            done="",
            errors=[("link", e.message)],
        )
    return RedirectResponse(
        f"/your-data/opt-outs?done={quote(outcome.message)}", status_code=303
    )


class OptOutChange(BaseModel):
    link_id: int = Field(..., ge=1, le=10**12)
    optout_type: str = Field(..., max_length=40)
    action: str = Field(..., pattern="^(add|withdraw)$")


@router.post("/api/your-data/opt-outs", name="api_my_opt_out", tags=["your data"])
def api_my_opt_out(request: Request, change: OptOutChange) -> dict[str, Any]:
    """Register or withdraw an opt-out for one of this account's linked pupils."""
    outcome = _change(request, change.link_id, change.optout_type, change.action)
    return {"changed": outcome.changed, "message": outcome.message}
