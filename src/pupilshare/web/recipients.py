"""Applicants and recipients: apply (every flag shown before submission), follow an
application stage by stage against the service level, and fetch their own releases.

A release is fetched only by a user of the recipient organisation of its agreement,
and only after the one decision point allows it (the answer is recorded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from pupilshare import catalogue, governance, release
from pupilshare.errors import Denied
from pupilshare.governance import Actor
from pupilshare.web.context import actor_of, records, state
from pupilshare.web.render import PAGE_ROUTE, page

router = APIRouter()
LEVELS = ("aggregate", "anonymised", "pseudonymised", "identified")
FREQUENCIES = ("one-off", "termly", "annual")
MAX_TABLES = 20


def _who(request: Request) -> Actor:
    who = actor_of(request)
    assert who is not None  # the guard let only signed-in users here
    return who


# -- agreements and their progress -----------------------------------------------
@router.get("/agreements", name="agreements_page", **PAGE_ROUTE)
def agreements_page(request: Request) -> HTMLResponse:
    with records(request) as session:
        rows = governance.list_agreements(session, _who(request))
        level = governance.service_level(session)
    return page(request, "agreements.html", agreements=rows, service=level)


@router.get("/api/agreements", name="api_agreements", tags=["agreements"])
def api_agreements(request: Request, status: str | None = None) -> list[dict]:
    """Agreements this user may see (a recipient: only its organisation's)."""
    with records(request) as session:
        return governance.list_agreements(session, _who(request), status)


def _own_releases(request: Request, who: Actor, agreement: dict) -> list[dict]:
    if not who.may("download_own") or agreement["recipient"] != who.org_id:
        return []
    aid = agreement["id"]
    got = state(request).reader.read(
        ("releases", aid), lambda s: release.published().releases(s, [aid]), []
    )
    return got.value


def _progress(request: Request, agreement_id: str) -> dict[str, Any]:
    who = _who(request)
    with records(request) as session:
        d = governance.progress(session, who, agreement_id)
    d["releases"] = _own_releases(request, who, d)
    return d


@router.get("/agreements/{agreement_id}", name="agreement_page", **PAGE_ROUTE)
def agreement_page(request: Request, agreement_id: str) -> HTMLResponse:
    return page(request, "agreement.html", ag=_progress(request, agreement_id))


@router.get("/api/agreements/{agreement_id}", name="api_agreement", tags=["agreements"])
def api_agreement(request: Request, agreement_id: str) -> dict[str, Any]:
    """One agreement: terms, stages, service level, refusal reasons, panel,
    decisions and (for its recipient) its releases."""
    return _progress(request, agreement_id)


# -- applying ----------------------------------------------------------------------
class DatasetRequest(BaseModel):
    justification: str = ""
    items: dict[str, str] = Field(default_factory=dict)


class Population(BaseModel):
    min_age: int | None = Field(default=None, ge=0, le=25)
    max_age: int | None = Field(default=None, ge=0, le=25)
    year_groups: list[str] = Field(default_factory=list)
    la_codes: list[str] = Field(default_factory=list)


class TableRequest(BaseModel):
    """One table of an aggregate share: counts of pupils (or the sum of a numeric
    ``measure``) of ``dataset``, grouped by ``rows`` and ``columns`` items."""

    name: str = Field(max_length=64)
    dataset: str = Field(max_length=64)
    rows: list[str] = Field(default_factory=list, max_length=10)
    columns: list[str] = Field(default_factory=list, max_length=10)
    measure: str | None = Field(default=None, max_length=64)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    justification: str = Field(default="", max_length=2000)


class Application(BaseModel):
    """An application's terms, as in an agreement file (recipient and named user
    are the applicant's own)."""

    id: str = Field(max_length=64)
    title: str = Field(max_length=300)
    gateway: str = Field(max_length=64)
    purpose: str = Field(max_length=4000)
    level: str = Field(max_length=20)
    frequency: str = "one-off"
    start: str = "today"
    expiry: str = Field(max_length=20)
    destroy_by: str = Field(max_length=20)
    retention: str = ""
    population: Population = Field(default_factory=Population)
    datasets: dict[str, DatasetRequest] = Field(default_factory=dict)
    tables: list[TableRequest] = Field(default_factory=list, max_length=MAX_TABLES)


def _raw(who: Actor, app: Application) -> dict[str, Any]:
    raw = app.model_dump()
    raw["population"] = {k: v for k, v in raw["population"].items() if v}
    return {**raw, "recipient": who.org_id, "users": [who.username]}


def _from_form(form: Any) -> Application:
    """The apply form as an application: each ticked item with its justification."""
    datasets: dict[str, DatasetRequest] = {}
    for ref in form.getlist("items"):
        ds, _, name = str(ref).partition(".")
        entry = datasets.setdefault(
            ds, DatasetRequest(justification=str(form.get(f"dataset:{ds}", "")))
        )
        entry.items[name] = str(form.get(f"why:{ref}", ""))
    groups = [
        g.strip() for g in str(form.get("year_groups", "")).split(",") if g.strip()
    ]

    def age(key: str) -> int | None:
        v = str(form.get(key, "")).strip()
        return int(v) if v.isdigit() and int(v) <= 25 else None

    return Application(
        tables=_tables_from_form(form),
        id=str(form.get("id", "")).strip()[:64],
        title=str(form.get("title", ""))[:300],
        gateway=str(form.get("gateway", ""))[:64],
        purpose=str(form.get("purpose", ""))[:4000],
        level=str(form.get("level", ""))[:20],
        frequency=str(form.get("frequency", "one-off")),
        start=str(form.get("start", "")).strip() or "today",
        expiry=str(form.get("expiry", "")).strip()[:20],
        destroy_by=str(form.get("destroy_by", "")).strip()[:20],
        retention=str(form.get("retention", "")),
        population=Population(
            min_age=age("min_age"), max_age=age("max_age"), year_groups=groups
        ),
        datasets=datasets,
    )


def _names(text: object) -> list[str]:
    return [n.strip() for n in str(text or "").split(",") if n.strip()][:10]


def _tables_from_form(form: Any) -> list[TableRequest]:
    """The form's table slots (``table:N:field``), each one filled in at all."""
    out = []
    for n in range(MAX_TABLES):
        got = {
            f: str(form.get(f"table:{n}:{f}", "")).strip()
            for f in ("name", "dataset", "rows", "columns", "measure", "why")
        }
        if not any(got[f] for f in ("name", "dataset", "rows", "columns")):
            continue
        measure = got["measure"].partition(".")[2] or None
        out.append(
            TableRequest(
                name=got["name"][:64],
                dataset=got["dataset"][:64],
                rows=_names(got["rows"]),
                columns=_names(got["columns"]),
                measure=measure[:64] if measure else None,
                justification=got["why"][:2000],
            )
        )
    return out


def _table_slots(form: Any) -> list[dict[str, str]]:
    """The tables as the form shows them: those filled in, then one empty."""
    slots = []
    if form is not None:
        for n in range(MAX_TABLES):
            got = {
                f: str(form.get(f"table:{n}:{f}", ""))
                for f in ("name", "dataset", "rows", "columns", "measure", "why")
            }
            if any(got[f].strip() for f in ("name", "dataset", "rows", "columns")):
                slots.append(got)
    if len(slots) < MAX_TABLES:
        slots.append(
            dict.fromkeys(("name", "dataset", "rows", "columns", "measure", "why"), "")
        )
    return slots


def _flag_links(flags: list[str], slots: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each flag with the field it is about, for the error summary's links."""
    slot_of = {s["name"].strip(): n for n, s in enumerate(slots) if s["name"].strip()}
    out = []
    for f in flags:
        href = "#id"
        if f.startswith("item "):
            href = "#item-" + f[5:].split(":")[0].replace(".", "-")
        elif f.startswith("table "):
            n = slot_of.get(f[6:].split(":")[0])
            if n is not None:
                field = "why" if "justification" in f else "name"
                href = f"#table-{n}-{field}"
        out.append({"text": f, "href": href})
    return out


def _form_page(
    request: Request, form: Any, flags: list[str] | None, status: int = 200
) -> HTMLResponse:
    with records(request) as session:
        gateways = governance.list_gateways(session, _who(request))
        level = governance.service_level(session)
    datasets = [ds for ds in catalogue.DATASETS.values() if not ds.reference]
    ticked = set(form.getlist("items")) if form is not None else set()
    by_item: dict[str, list[str]] = {}
    by_table: dict[str, list[str]] = {}
    for f in flags or []:
        if f.startswith("item "):
            by_item.setdefault(f[5:].split(":", 1)[0], []).append(f)
        elif f.startswith("table "):
            by_table.setdefault(f[6:].split(":", 1)[0], []).append(f)
    slots = _table_slots(form)
    measures = [
        f"{ds.name}.{it.name}"
        for ds in datasets
        for it in ds.items
        if it.type in ("integer", "decimal")
    ]
    return page(
        request,
        "apply.html",
        status=status,
        gateways=gateways,
        datasets=datasets,
        levels=LEVELS,
        frequencies=FREQUENCIES,
        form=form,
        ticked=ticked,
        flags=flags,
        item_flags=by_item,
        table_flags=by_table,
        tables=slots,
        measures=measures,
        flag_links=_flag_links(flags or [], slots),
        service=level,
    )


@router.get("/apply", name="apply_form", **PAGE_ROUTE)
def apply_form(request: Request) -> HTMLResponse:
    return _form_page(request, None, None)


def _flags(request: Request, app: Application) -> list[str]:
    with records(request) as session:
        return governance.check_application(session, _raw(_who(request), app))


@router.post("/apply/check", name="apply_check", **PAGE_ROUTE)
async def apply_check(request: Request) -> HTMLResponse:
    form = await request.form()
    from starlette.concurrency import run_in_threadpool

    flags = await run_in_threadpool(_flags, request, _from_form(form))
    return await run_in_threadpool(_form_page, request, form, flags)


def _submit(request: Request, app: Application) -> dict[str, Any]:
    who = _who(request)
    with records(request) as session:
        ag = governance.submit(session, who, _raw(who, app))
        return {"id": ag.agreement_id, "status": ag.status}


@router.post("/apply", name="apply_submit", include_in_schema=False)
async def apply_submit(request: Request) -> Response:
    """Submit, unless anything is flagged: then the form comes back with every
    flag, and nothing is recorded."""
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    app = _from_form(form)
    flags = await run_in_threadpool(_flags, request, app)
    if flags:
        return await run_in_threadpool(_form_page, request, form, flags, 400)
    done = await run_in_threadpool(_submit, request, app)
    return RedirectResponse(f"/agreements/{done['id']}?submitted=1", status_code=303)


@router.post("/api/applications/check", name="api_apply_check", tags=["agreements"])
def api_apply_check(request: Request, application: Application) -> dict[str, Any]:
    """Every flag a submission of these terms would raise; nothing is recorded."""
    flags = _flags(request, application)
    return {"ok": not flags, "flags": flags}


@router.post(
    "/api/applications", name="api_apply", tags=["agreements"], status_code=201
)
def api_apply(request: Request, application: Application) -> dict[str, Any]:
    """Submit an application for the approval panel (refused with every reason)."""
    return _submit(request, application)


# -- releases ----------------------------------------------------------------------
def _own_release(request: Request, release_id: str) -> dict[str, Any]:
    """The release record, if it was made under the asker's own agreement."""
    who = _who(request)
    got = state(request).reader.read(
        ("release", release_id),
        lambda s: release.published().release(s, release_id),
        None,
    )
    rec = got.value
    if rec is None:
        from pupilshare.errors import NotFound

        raise NotFound(f"no release {release_id!r}")
    with records(request) as session:
        ag = governance.detail(session, who, rec["agreement_id"])
    if ag["recipient"] != who.org_id:
        raise Denied(f"{who.username} may not fetch release {release_id}")
    return {**rec, "agreement": ag, "manifest": release.published().manifest(rec)}


def _public_release(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("out_dir", "agreement")}


@router.get("/releases/{release_id}", name="release_page", **PAGE_ROUTE)
def release_page(request: Request, release_id: str) -> HTMLResponse:
    return page(request, "release.html", rel=_own_release(request, release_id))


@router.get("/api/releases", name="api_releases", tags=["releases"])
def api_releases(request: Request) -> list[dict[str, Any]]:
    """This recipient's delivered releases, newest first, with their files."""
    who = _who(request)
    with records(request) as session:
        ids = [
            a["id"]
            for a in governance.list_agreements(session, who)
            if a["recipient"] == who.org_id
        ]
    got = state(request).reader.read(
        ("releases", tuple(ids)), lambda s: release.published().releases(s, ids), []
    )
    return [_public_release(r) for r in got.value]


@router.get("/api/releases/{release_id}", name="api_release", tags=["releases"])
def api_release(request: Request, release_id: str) -> dict[str, Any]:
    """One of this recipient's releases with its manifest."""
    return _public_release(_own_release(request, release_id))


@router.get(
    "/releases/{release_id}/files/{name}",
    name="release_file",
    tags=["releases"],
    response_class=FileResponse,
)
def release_file(request: Request, release_id: str, name: str) -> FileResponse:
    """Download one file of the recipient's own release; the decision point is
    asked first and its answer recorded."""
    rec = _own_release(request, release_id)
    man = rec["manifest"]
    who = _who(request)
    answer = governance.may_disclose(
        state(request).home,
        who.username,
        rec["agreement_id"],
        list(man.get("items") or []),
        str(man.get("purpose") or ""),
        action="download",
    )
    if not answer.allowed:
        raise Denied(
            f"downloading release {release_id} is not allowed now",
            list(answer.explanations),
        )
    path = release.published().release_file(rec, name)
    return FileResponse(path, filename=name, content_disposition_type="attachment")
