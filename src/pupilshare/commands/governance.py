"""``pupilshare agreements|orgs|gateways|register``: sharing governance.

Each command opens the governance records, finds who is asking (``--user`` or
``--token``, proved by ``pupilshare.identity``; else the local data-operations
operator) and calls one function of ``pupilshare.governance``; that function checks
the asker's roles (denied by default). ``users`` is in ``commands/users.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from pupilshare import governance as gov
from pupilshare.cliapp import console, context
from pupilshare.errors import NotFound

agreements_app = typer.Typer(
    help="Data sharing agreements and their workflow.", no_args_is_help=True
)
orgs_app = typer.Typer(
    help="Recipient organisations (due diligence).", no_args_is_help=True
)
gateways_app = typer.Typer(help="Legal gateways.", no_args_is_help=True)
JSON = typer.Option(False, "--json", help="Print JSON.")


@contextmanager
def _records(ctx: typer.Context) -> Iterator[tuple[Session, gov.Actor]]:
    c = context(ctx)
    with gov.records(c.home, c.principal) as (session, who):
        yield session, who


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _say(text: str) -> None:

    console.print(text, highlight=False)  # records hold no pupil values


def _table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> None:

    t = Table(title=title)
    for c in cols:
        t.add_column(c, no_wrap=c == cols[0])
    for r in rows:
        t.add_row(
            *(
                ", ".join(map(str, v)) if isinstance(v, list) else str(v)
                for v in (r.get(c, "") for c in cols)
            )
        )
    console.print(t)


def _list(
    ctx: typer.Context,
    as_json: bool,
    title: str,
    cols: list[str],
    fetch: Callable[[Session, gov.Actor], list[dict[str, Any]]],
) -> None:
    """The shape of every list command: read, then JSON or a table."""
    with _records(ctx) as (s, who):
        rows = fetch(s, who)
    if as_json:
        return _print(rows)
    _table(title, rows, cols)


# -- agreements ---------------------------------------------------------------
@agreements_app.command("list")
def agreements_list(
    ctx: typer.Context,
    status: str = typer.Option(None, "--status"),
    as_json: bool = JSON,
) -> None:
    """Agreements (a recipient sees only its own)."""
    _list(
        ctx,
        as_json,
        "agreements",
        ["id", "recipient", "level", "status", "version", "expiry", "items"],
        lambda s, who: gov.list_agreements(s, who, status),
    )


@agreements_app.command("show")
def agreements_show(
    ctx: typer.Context, agreement_id: str, as_json: bool = JSON
) -> None:
    """One agreement: terms, history, panel, decisions and amendments."""
    with _records(ctx) as (s, who):
        d = gov.detail(s, who, agreement_id)
    if as_json:
        return _print(d)
    for line in gov.detail_lines(d):
        _say(line)


@agreements_app.command("submit")
def agreements_submit(ctx: typer.Context, file: Path) -> None:
    """Submit an agreement from a YAML file (refused at once, with every reason)."""
    with _records(ctx) as (s, who):
        ag = gov.submit(s, who, gov.read_yaml(file), home=context(ctx).home)
    _say(f"{ag.agreement_id} submitted; it now awaits the approval panel")


@agreements_app.command("panel")
def agreements_panel(
    ctx: typer.Context,
    agreement_id: str,
    view: list[str] = typer.Option(
        [], "--view", help="member=approve|reject|abstain: reasons"
    ),
    conflict: list[str] = typer.Option([], "--conflict", help="member=declaration"),
    condition: list[str] = typer.Option([], "--condition", help="Attach a condition."),
    amendment: int = typer.Option(None, "--amendment", help="Sit on this amendment."),
) -> None:
    """Record a sitting of the approval panel: views with reasons, conflicts.

    Quorum is "quorum" in the governance section of pupilshare.toml (default 3).
    """
    views = []
    for v in view:
        member, _, rest = v.partition("=")
        kind, _, reasons = rest.partition(":")
        views.append(
            {"member": member.strip(), "view": kind.strip(), "reasons": reasons.strip()}
        )
    for c in conflict:
        member, _, text = c.partition("=")
        views.append({"member": member.strip(), "conflict": text.strip() or "declared"})
    with _records(ctx) as (s, who):
        r = gov.record_panel(
            s, who, context(ctx).home, agreement_id, views, condition, amendment
        )
    _say(
        f"panel review {r.review_id} on {agreement_id}: "
        f"{'quorate' if r.quorate else 'NOT quorate'} (quorum {r.quorum})"
    )


@agreements_app.command("decide")
def agreements_decide(
    ctx: typer.Context,
    agreement_id: str,
    approve: bool = typer.Option(..., "--approve/--reject"),
    reason: str = typer.Option(..., "--reason"),
    condition: list[str] = typer.Option([], "--condition"),
    amendment: int = typer.Option(None, "--amendment"),
) -> None:
    """The Chief Statistician's decision (never on their own submission)."""
    with _records(ctx) as (s, who):
        d, status = gov.decide_agreement(
            s, who, agreement_id, approve, reason, condition, amendment
        )
    _say(f"{agreement_id}: {d.outcome} by {d.decided_by}; now {status}")


@agreements_app.command("activate")
def agreements_activate(ctx: typer.Context, agreement_id: str) -> None:
    """Make an approved agreement active (within its term)."""
    with _records(ctx) as (s, who):
        gov.activate(s, who, agreement_id)
    _say(f"{agreement_id} is active")


@agreements_app.command("expire")
def agreements_expire(ctx: typer.Context) -> None:
    """Expire every agreement past its expiry date."""
    with _records(ctx) as (s, who):
        done = gov.expire_due(s, who)
    _say(f"{len(done)} agreements expired" + (f": {', '.join(done)}" if done else ""))


@agreements_app.command("revoke")
def agreements_revoke(
    ctx: typer.Context, agreement_id: str, reason: str = typer.Option(..., "--reason")
) -> None:
    """Revoke an agreement (Chief Statistician)."""
    with _records(ctx) as (s, who):
        gov.revoke(s, who, agreement_id, reason)
    _say(f"{agreement_id} revoked")


@agreements_app.command("amend")
def agreements_amend(
    ctx: typer.Context,
    agreement_id: str,
    file: Path,
    reason: str = typer.Option(..., "--reason"),
) -> None:
    """Propose an amendment: FILE holds only the terms that change."""
    with _records(ctx) as (s, who):
        am = gov.propose_amendment(s, who, agreement_id, gov.read_yaml(file), reason)
    _say(f"amendment {am.amendment_id} to {agreement_id} proposed:")
    for key, (old, new) in am.diff.items():
        _say(f"  {key}: {old!r} -> {new!r}")


@agreements_app.command("ask")
def agreements_ask(
    ctx: typer.Context,
    agreement_id: str,
    items: str = typer.Option(..., "--items", help="comma-separated dataset.item"),
    purpose: str = typer.Option(..., "--purpose"),
    action: str = typer.Option("download", "--action"),
    as_json: bool = JSON,
) -> None:
    """Ask the one decision point whether the current user may have these items."""
    c = context(ctx)
    who = c.principal()
    refs = [i.strip() for i in items.split(",") if i.strip()]
    a = gov.may_disclose(
        c.home,
        who.username if who.named else None,
        agreement_id,
        refs,
        purpose,
        action=action,
    )
    if as_json:
        return _print(
            {
                "allowed": a.allowed,
                "rules": a.rules,
                "policy_version": a.policy_version,
                "decision_id": a.decision_id,
            }
        )
    _say(
        f"{'ALLOW' if a.allowed else 'DENY'} (policy {a.policy_version}): "
        + "; ".join(a.explanations)
    )


@agreements_app.command("plan")
def agreements_plan(ctx: typer.Context, agreement_id: str) -> None:
    """The release plan of an active agreement, as JSON."""
    with _records(ctx) as (s, who):
        print(gov.agreement_plan(s, who, agreement_id))


# -- organisations, gateways, users ------------------------------------------
@orgs_app.command("list")
def orgs_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Recipient organisations with their legal identity and status."""
    _list(
        ctx,
        as_json,
        "organisations",
        ["id", "name", "type", "legal_id", "status"],
        gov.list_orgs,
    )


@orgs_app.command("show")
def orgs_show(ctx: typer.Context, org_id: str, as_json: bool = JSON) -> None:
    """One organisation: identity, identity changes, users and agreements."""
    with _records(ctx) as (s, who):
        d = gov.show_org(s, who, org_id)
    if as_json:
        return _print(d)
    _say(
        f"[bold]{d['id']}[/] {d['name']} ({d['type']}, {d['legal_id']}) - "
        f"{d['status']}; users: {', '.join(d['users'])}"
    )
    _table("agreements", d["agreements"], ["id", "level", "status", "expiry"])
    for c in d["changes"]:
        _say(f"  {c['at']} {c['field']}: {c['old']!r} -> {c['new']!r} by {c['by']}")


@orgs_app.command("add")
def orgs_add(
    ctx: typer.Context,
    org_id: str,
    name: str = typer.Option(..., "--name"),
    org_type: str = typer.Option(..., "--type"),
    legal_id: str = typer.Option(..., "--legal-id"),
    owner: str = typer.Option("", "--owner"),
    min_pupil_age: int = typer.Option(None, "--min-pupil-age"),
) -> None:
    """Add a recipient organisation with its legal identity."""
    with _records(ctx) as (s, who):
        gov.add_org(s, who, org_id, name, org_type, legal_id, owner, "", min_pupil_age)
    _say(f"organisation {org_id} added")


@orgs_app.command("change")
def orgs_change(
    ctx: typer.Context,
    org_id: str,
    field: str = typer.Option(..., "--field", help="name|legal_id|owner"),
    value: str = typer.Option(..., "--value"),
    reason: str = typer.Option(..., "--reason"),
) -> None:
    """Record a change of name, identity or ownership: suspends its agreements."""
    with _records(ctx) as (s, who):
        done = gov.change_identity(s, who, org_id, field, value, reason)
    _say(f"{org_id} suspended pending re-approval; {len(done)} agreements suspended")


@orgs_app.command("reinstate")
def orgs_reinstate(
    ctx: typer.Context, org_id: str, reason: str = typer.Option(..., "--reason")
) -> None:
    """Confirm a changed identity (Chief Statistician); each agreement is then
    re-approved with ``agreements decide``."""
    with _records(ctx) as (s, who):
        gov.reinstate_org(s, who, org_id, reason)
    _say(f"{org_id} reinstated")


@gateways_app.command("list")
def gateways_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Legal gateways and what each allows."""
    _list(
        ctx,
        as_json,
        "legal gateways",
        ["id", "title", "levels", "datasets", "min_age"],
        gov.list_gateways,
    )


@gateways_app.command("show")
def gateways_show(ctx: typer.Context, gateway_id: str) -> None:
    """One legal gateway and what it allows, as JSON."""
    with _records(ctx) as (s, who):
        g = next((g for g in gov.list_gateways(s, who) if g["id"] == gateway_id), None)
    if g is None:
        raise NotFound(f"no gateway {gateway_id!r}")
    _print(g)


@gateways_app.command("add")
def gateways_add(ctx: typer.Context, file: Path) -> None:
    """Add a legal gateway from a YAML file (id, title, statute, section, allows,
    levels, datasets, min_age, max_age)."""
    with _records(ctx) as (s, who):
        g = gov.add_gateway(s, who, gov.read_yaml(file))
    _say(
        f"gateway {g.gateway_id} added; it takes effect once the Chief Statistician "
        "confirms it"
    )


@gateways_app.command("confirm")
def gateways_confirm(ctx: typer.Context, gateway_id: str) -> None:
    """Confirm a legal gateway (Chief Statistician; never whoever added it): until
    then no agreement is submitted or decided under it."""
    with _records(ctx) as (s, who):
        gov.confirm_gateway(s, who, gateway_id)
    _say(f"gateway {gateway_id} confirmed")


def register_cmd(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Directory to write."),
    force: bool = typer.Option(
        False, "--force", help="Replace a register already in that folder."
    ),
) -> None:
    """Write the public register (HTML, CSV) and the privacy notice (HTML, text)."""
    with _records(ctx) as (s, who):
        paths = gov.publish_register(s, who, context(ctx).home, out, force=force)
    for p in paths.values():
        _say(str(p))


def register(app: typer.Typer) -> None:
    app.add_typer(agreements_app, name="agreements")
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(gateways_app, name="gateways")
    app.command("register")(register_cmd)
