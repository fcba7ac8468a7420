"""The public register of shares and the privacy notice, from the live records.

One row per agreement in force and one per release made under it, at least as
complete as the health service's data uses register: reference, recipient, purpose,
legal gateway, level, datasets and items with their sensitivity, access route,
decision date, expiry, retention and destruction status, whether opt-outs are
applied, and releases made so far. Releases are read from the store's ``releases``
table (written by the release area) when it exists.
"""

from __future__ import annotations

import html
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from pupilshare import catalogue, csvsafe, outputs
from pupilshare.config import Home
from pupilshare.governance import notice
from pupilshare.governance.models import Agreement, Decision, Organisation
from pupilshare.plan import Sdc

COLUMNS = (
    "row_type",
    "reference",
    "title",
    "recipient",
    "recipient_type",
    "recipient_legal_id",
    "purpose",
    "legal_gateway",
    "level",
    "status",
    "datasets",
    "items",
    "access_route",
    "frequency",
    "population",
    "decision_date",
    "decided_by",
    "conditions",
    "start",
    "expiry",
    "retention",
    "destroy_by",
    "destruction_status",
    "opt_outs_applied",
    "releases_made",
    "release_id",
    "release_date",
    "release_rows",
    "disclosure_control",
)
TIER = {
    1: "tier 1 highly sensitive",
    2: "tier 2 sensitive",
    3: "tier 3 aggregate",
    4: "tier 4 not sensitive",
}


def read_releases(home: Home) -> list[dict[str, Any]]:
    """Releases made so far, as the disclosure ledger records them (the ledger is the
    source of truth for who got what); none while the store is absent or busy."""
    from pupilshare.ledger import releases_by_agreement

    return releases_by_agreement(home)


def read_exemptions(home: Home) -> dict[str, str]:
    """Agreements whose opt-outs a legal duty overrides, with the named approver."""
    if not home.store_path.exists():
        return {}
    try:
        con = duckdb.connect(str(home.store_path), read_only=True)
    except duckdb.Error:
        return {}
    try:
        if not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE "
            "table_name = 'optout_exemptions'"
        ).fetchone()[0]:
            return {}
        rows = con.execute(
            "SELECT agreement_id, legal_duty, approver FROM "
            "optout_exemptions WHERE withdrawn_at IS NULL"
        ).fetchall()
    finally:
        con.close()
    return {a: f"no: exempt under {d} (approved by {who})" for a, d, who in rows}


def _items(t: dict[str, Any]) -> str:
    out = []
    for ref in sorted(t["items"]):
        it = catalogue.item(ref)
        flag = ", identifying" if it.identifying else ""
        out.append(f"{ref} ({TIER[it.tier]}{flag})")
    return "; ".join(out)


def _destruction(ag: Agreement, today: date) -> str:
    if today <= ag.expiry_date:
        return f"held under agreement; destroy by {ag.destroy_by}"
    if today <= ag.destroy_by:
        return f"expired; destroy by {ag.destroy_by}"
    return f"destruction due since {ag.destroy_by}"


IN_FORCE = ("active",)
ENDED = ("suspended", "expired", "revoked")


def rows(
    session: Session,
    releases: list[dict[str, Any]],
    today: date | None = None,
    statuses: tuple[str, ...] = IN_FORCE,
    exemptions: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Register rows: each agreement in ``statuses`` followed by its releases."""
    exemptions = exemptions or {}
    today = today or date.today()
    active = session.scalars(
        select(Agreement)
        .where(Agreement.status.in_(statuses))
        .order_by(Agreement.agreement_id)
    ).all()
    by_ag: dict[str, list[dict[str, Any]]] = {}
    for r in releases:
        by_ag.setdefault(str(r["agreement_id"]), []).append(r)
    out = []
    for ag in active:
        d = session.scalar(
            select(Decision)
            .where(
                Decision.agreement_id == ag.agreement_id,
                Decision.outcome == "approved",
                Decision.amendment_id.is_(None),
            )
            .order_by(Decision.decision_id.desc())
        )
        t, mine = ag.spec, by_ag.get(ag.agreement_id, [])
        base = {
            "row_type": "agreement",
            "reference": ag.agreement_id,
            "title": ag.title,
            "recipient": ag.organisation.name,
            "recipient_type": ag.organisation.org_type,
            "recipient_legal_id": ag.organisation.legal_id,
            "purpose": ag.purpose,
            "legal_gateway": f"{ag.gateway.statute}, {ag.gateway.section}",
            "level": ag.level,
            "status": ag.status,
            "datasets": "; ".join(t["datasets"]),
            "items": _items(t),
            "access_route": t["access_route"],
            "frequency": ag.frequency,
            "population": notice.population_phrase(t["population"]),
            "decision_date": d.decided_at.date().isoformat() if d else "",
            "decided_by": "Chief Statistician" if d else "",
            "conditions": "; ".join(
                [*(d.conditions if d else []), *t.get("conditions", [])]
            ),
            "start": ag.start_date.isoformat(),
            "expiry": ag.expiry_date.isoformat(),
            "retention": t["retention"],
            "destroy_by": ag.destroy_by.isoformat(),
            "destruction_status": _destruction(ag, today),
            "opt_outs_applied": exemptions.get(
                ag.agreement_id, f"yes: objections for {t['opt_out_scope']}"
            ),
            "releases_made": len(mine),
            "release_id": "",
            "release_date": "",
            "release_rows": "",
            "disclosure_control": disclosure_phrase(ag.level, t.get("sdc") or {}),
        }
        out.append(base)
        for r in mine:
            out.append(
                {
                    **{k: "" for k in COLUMNS},
                    "row_type": "release",
                    "reference": ag.agreement_id,
                    "recipient": base["recipient"],
                    "level": ag.level,
                    "release_id": str(r["release_id"]),
                    "release_date": str(r["created_at"])[:10],
                    "release_rows": r["row_count"],
                }
            )
    return out


def disclosure_phrase(level: str, terms: dict[str, Any]) -> str:
    """What a user of an aggregate share's tables must know about its protection."""
    if level != "aggregate":
        return ""
    sdc = Sdc(**terms)
    if sdc.method == "cell_key":
        return (
            f"cell key perturbation (the ONS's Census 2021 method): every count "
            f"changed by up to {sdc.ptable_max} either way, the same pupils giving "
            "the same value in every table; counts from 1 to "
            f"{sdc.threshold - 1} not shown (c); cells need not add up to totals"
        )
    return (
        f"cell suppression: cells of 1 to {sdc.threshold - 1} pupils (and sums "
        "failing dominance or the p% rule) shown as c, with other cells suppressed "
        "so none can be worked out to within "
        f"{sdc.min_interval} (counts) or {sdc.p_ratio:.0%} (sums), also with "
        "earlier releases"
    )


def _html_table(regs: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "\n".join(
        f'<tr class="{r["row_type"]}">'
        + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in COLUMNS)
        + "</tr>"
        for r in regs
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"


def _html_page(
    live: list[dict[str, Any]], ended: list[dict[str, Any]], today: date
) -> str:
    n = sum(r["row_type"] == "agreement" for r in live)
    m = sum(r["row_type"] == "agreement" for r in ended)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Register of pupil data shares</title><style>body{font-family:"
        "sans-serif}table{border-collapse:collapse;font-size:small}td,th{border:"
        "1px solid #bbb;padding:2px 4px;vertical-align:top}tr.release{color:"
        "#555}</style></head><body>\n"
        f"<h1>Register of pupil data shares</h1>\n<p>{n} agreements in force on "
        f"{today.isoformat()}, with every release made under them.</p>\n"
        f"{_html_table(live)}\n<h2>Shares no longer in force</h2>\n<p>{m} "
        "agreements suspended, expired or revoked, with the releases made under "
        f"them (listed separately: they are not in force).</p>\n"
        f"{_html_table(ended)}\n</body></html>\n"
    )


def _write_csv(path: Path, regs: list[dict[str, Any]]) -> None:
    """The register as CSV, every cell safe to open in a spreadsheet (``csvsafe``):
    titles and purposes come from submitters."""
    csvsafe.write_rows(path, COLUMNS, regs)


OUTPUT_NAMES = (
    "register.csv",
    "register-not-in-force.csv",
    "register.html",
    "privacy-notice.html",
    "privacy-notice.txt",
)


def write_register(
    session: Session,
    home: Home,
    out: Path,
    today: date | None = None,
    force: bool = False,
) -> dict[str, Path]:
    """Write the register (CSV and HTML; shares in force, and separately those
    no longer in force) and the privacy notice (HTML and text) under ``out``."""
    today = today or date.today()
    outputs.folder_target(out, OUTPUT_NAMES, force)
    out.mkdir(parents=True, exist_ok=True)
    releases = read_releases(home)
    exempt = read_exemptions(home)
    live = rows(session, releases, today, exemptions=exempt)
    ended = rows(session, releases, today, ENDED, exempt)
    paths = {
        "register_csv": out / "register.csv",
        "ended_csv": out / "register-not-in-force.csv",
        "register_html": out / "register.html",
        "notice_html": out / "privacy-notice.html",
        "notice_text": out / "privacy-notice.txt",
    }
    _write_csv(paths["register_csv"], live)
    _write_csv(paths["ended_csv"], ended)
    paths["register_html"].write_text(_html_page(live, ended, today))
    active = list(
        session.scalars(
            select(Agreement)
            .where(Agreement.status == "active")
            .order_by(Agreement.agreement_id)
        )
    )
    secs = notice.sections(active, session.get(Organisation, "department"), today)
    paths["notice_html"].write_text(notice.as_html(secs))
    paths["notice_text"].write_text(notice.as_text(secs))
    return paths
