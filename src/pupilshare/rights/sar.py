"""Subject access: a request recorded with who asked and how their identity was
checked, answered with everything held about the pupil and every disclosure of it,
each disclosure proved against a signed checkpoint of the ledger.

A request that fits no pupil, or several, is answered so and holds nobody's data.
The answer is itself a disclosure (to the requester) and goes into the ledger.
"""

from __future__ import annotations

import calendar
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.ledger import keys, log, merkle
from pupilshare.rights import page
from pupilshare.rights.identity import Subject, check_requester, resolve  # noqa: F401
from pupilshare.rights.optouts import now
from pupilshare.store import Store

DDL = (
    "CREATE TABLE IF NOT EXISTS sar_requests (request_id VARCHAR PRIMARY KEY, "
    "received_at TIMESTAMP NOT NULL, due_date DATE NOT NULL, forename VARCHAR, "
    "surname VARCHAR, date_of_birth DATE, upn VARCHAR, uln VARCHAR, "
    "requester VARCHAR NOT NULL, requester_name VARCHAR, identity_check VARCHAR "
    "NOT NULL, child_consent VARCHAR, recorded_by VARCHAR NOT NULL, "
    "status VARCHAR NOT NULL, answered_at TIMESTAMP, answered_by VARCHAR, "
    "ledger_entry BIGINT)"
)
COLS = (
    "request_id",
    "received_at",
    "due_date",
    "forename",
    "surname",
    "date_of_birth",
    "upn",
    "uln",
    "requester",
    "requester_name",
    "identity_check",
    "child_consent",
    "recorded_by",
    "status",
    "answered_at",
    "answered_by",
    "ledger_entry",
)


def ensure(store: Store) -> None:
    store.rows(DDL)


INDEXES = (
    ("pupil_links", "pupil_key"),
    ("pupils", "date_of_birth"),
    ("pupil_identifiers", "value"),
)


def prepare(store: Store) -> None:
    """The lookup indexes a pack needs to stay fast at national scale (one pupil's
    links among tens of millions; candidates by date of birth or identifier). Made
    once, by the first request; match runs keep them up to date as they write."""
    for table, column in INDEXES:
        if store.exists(table):
            store.rows(
                f"CREATE INDEX IF NOT EXISTS {table}_{column}_sar ON {table} ({column})"
            )


def one_month_after(d: date) -> date:
    """The UK GDPR deadline: the same day next month (the month's last day when it
    has no such day)."""
    y, m = (d.year + (d.month == 12), d.month % 12 + 1)
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def request(
    store: Store,
    who: Subject,
    requester: str,
    requester_name: str,
    identity_check: str,
    recorded_by: str,
    child_consent: str | None = None,
    received: date | None = None,
) -> str:
    """Record a request; returns its id. The requester rule is checked now."""
    if not identity_check.strip():
        raise InvalidInput(
            "say how the requester's identity was checked (--identity-check)"
        )
    received = received or date.today()
    check_requester(who, requester, received, child_consent, access=True)
    ensure(store)
    rid = f"SAR-{received:%Y%m%d}-{secrets.token_hex(3)}"
    store.rows(
        "INSERT INTO sar_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "'open', NULL, NULL, NULL)",
        [
            rid,
            datetime.combine(received, now().time()),
            one_month_after(received),
            who.forename,
            who.surname,
            who.date_of_birth,
            who.upn,
            who.uln,
            requester,
            requester_name,
            identity_check,
            child_consent,
            recorded_by,
        ],
    )
    return rid


def requests(
    store: Store, overdue: bool = False, today: date | None = None
) -> list[dict[str, Any]]:
    ensure(store)
    where = "WHERE status = 'open' AND due_date < ?" if overdue else ""
    rows = store.rows(
        f"SELECT {', '.join(COLS)} FROM sar_requests {where} "
        "ORDER BY due_date, request_id",
        [today or date.today()] if overdue else [],
    )
    return [dict(zip(COLS, r, strict=True)) for r in rows]


def get(store: Store, request_id: str) -> dict[str, Any]:
    ensure(store)
    rows = store.rows(
        f"SELECT {', '.join(COLS)} FROM sar_requests WHERE request_id = ?", [request_id]
    )
    if not rows:
        raise NotFound(f"no subject access request {request_id}")
    return dict(zip(COLS, rows[0], strict=True))


@dataclass
class Pack:
    request_id: str
    outcome: str  # answered | no_match | several
    json_path: Path
    html_path: Path
    records: int
    disclosures: int


def answer(
    store: Store, home: Home, request_id: str, out: Path, answered_by: str
) -> Pack:
    """Write the response pack (JSON and a self-contained HTML page) into ``out``."""
    req = get(store, request_id)
    if req["status"] != "open":
        raise Conflict(f"{request_id} was already answered ({req['status']})")
    who = Subject(
        req["forename"], req["surname"], req["date_of_birth"], req["upn"], req["uln"]
    )
    key, n = resolve(store, who)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pack: dict[str, Any] = {"request": _public_request(req)}
    if key is None:
        outcome = "no_match" if n == 0 else "several"
        pack["outcome"] = outcome
        pack["message"] = (
            "We hold no record that matches every detail given."
            if n == 0
            else "More than one pupil matches the details given, so we cannot "
            "tell which records are yours: please send a Unique Pupil Number or more "
            "details."
        )
        entry = None
        records: list[dict[str, Any]] = []
        disclosures: list[dict[str, Any]] = []
    else:
        outcome = "answered"
        aliases = _aliases(store, key)
        records = _records(store, aliases)
        with store.transaction():
            entry = log.append(
                store,
                home,
                {
                    "kind": "subject_access",
                    "release_id": request_id,
                    "agreement_id": None,
                    "recipient": f"the {req['requester']}",
                    "purpose": "subject access request (UK GDPR Article 15)",
                    "level": "identified",
                    "row_count": len(records),
                    "created_at": now().isoformat(timespec="seconds"),
                },
                f"SELECT {key}::BIGINT AS pupil_key",
            )
            store.rows(
                "UPDATE sar_requests SET ledger_entry = ?, status = ?, "
                "answered_at = ?, answered_by = ? WHERE request_id = ?",
                [entry, outcome, now(), answered_by, request_id],
            )
        leaves = [
            bytes(r[0])
            for r in store.rows("SELECT leaf FROM ledger_entries ORDER BY entry_index")
        ]
        hashes = [merkle.leaf_hash(x) for x in leaves]
        cp = log.checkpoint(store, home, hashes=hashes)
        log.write_head(home, cp)
        disclosures = _disclosures(store, home, aliases, cp, leaves, hashes)
        pack.update(
            {
                "outcome": outcome,
                "pupil": _pupil(store, key),
                "records": records,
                "purposes": _purposes(records, disclosures),
                "disclosures": disclosures,
                "opt_outs": _opt_outs(store, key),
                "checkpoint": cp.as_json(),
            }
        )
    if entry is None:
        store.rows(
            "UPDATE sar_requests SET status = ?, answered_at = ?, "
            "answered_by = ? WHERE request_id = ?",
            [outcome, now(), answered_by, request_id],
        )
    json_path = out / f"{request_id}.json"
    json_path.write_text(json.dumps(pack, indent=2, default=str))
    html_path = out / f"{request_id}.html"
    html_path.write_text(page.render(pack))
    return Pack(
        request_id, outcome, json_path, html_path, len(records), len(disclosures)
    )


def _public_request(req: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "request_id",
        "received_at",
        "due_date",
        "requester",
        "requester_name",
        "identity_check",
        "child_consent",
    )
    return {k: req[k] for k in keep}


def _aliases(store: Store, key: int) -> list[int]:
    """The pupil's key and every key merged into it (through chains of merges)."""
    if not store.exists("pupil_merges"):
        return [key]
    rows = store.rows(
        "WITH RECURSIVE up(k) AS (SELECT ?::BIGINT UNION SELECT m.retired_key "
        "FROM pupil_merges m JOIN up ON m.pupil_key = up.k) SELECT k FROM up",
        [key],
    )
    return sorted({key, *(int(r[0]) for r in rows)})


def _pupil(store: Store, key: int) -> dict[str, Any]:
    cols = ("upn", "uln", "forename", "surname", "date_of_birth", "sex", "postcode")
    row = store.rows(
        f"SELECT {', '.join(cols)} FROM pupils WHERE pupil_key = ?", [key]
    )[0]
    out = dict(zip(cols, row, strict=True))
    if store.one(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pupil_identifiers'"
    ):
        out["identifiers"] = [
            {"kind": k, "value": v}
            for k, v in store.rows(
                "SELECT kind, value FROM pupil_identifiers WHERE pupil_key = ? "
                "ORDER BY kind, value",
                [key],
            )
        ]
    return out


def _records(store: Store, aliases: list[int]) -> list[dict[str, Any]]:
    """Every record linked to the pupil, in every dataset, with its source file."""
    tables = {r[0] for r in store.rows("SELECT table_name FROM duckdb_tables()")}
    if "pupil_links" not in tables:
        return []
    keys_list = ", ".join(str(int(k)) for k in aliases)
    links = store.rows(
        "SELECT dataset, collection_id, line FROM pupil_links "
        f"WHERE pupil_key IN ({keys_list})"
    )
    by_ds: dict[str, list[tuple[int, int]]] = {}
    for ds, cid, line in links:
        by_ds.setdefault(ds, []).append((int(cid), int(line)))
    has_collections = "collections" in tables
    out = []
    for ds_name, pairs in sorted(by_ds.items()):
        ds = catalogue.dataset(ds_name)
        if ds.table not in tables:
            continue
        where = " OR ".join(
            f"(d.collection_id = {c} AND d.line = {ln})" for c, ln in pairs
        )
        src = (
            "c.file_name AS __file, CAST(c.received_at AS VARCHAR) AS __received"
            if has_collections
            else "NULL AS __file, NULL AS __received"
        )
        join = (
            "LEFT JOIN collections c ON c.collection_id = d.collection_id"
            if has_collections
            else ""
        )
        t = store.arrow(
            f"SELECT d.*, {src} FROM {ds.table} d {join} WHERE {where} "
            "ORDER BY d.collection_id, d.line"
        )
        for row in t.to_pylist():
            out.append(
                {
                    "dataset": ds_name,
                    "source_file": row.pop("__file"),
                    "received": row.pop("__received"),
                    "line": row.pop("line"),
                    "collection_id": row.pop("collection_id"),
                    "values": {k: v for k, v in row.items() if v is not None},
                }
            )
    return out


def _disclosures(
    store: Store,
    home: Home,
    aliases: list[int],
    cp: log.Checkpoint,
    leaves: list[bytes],
    hashes: list[bytes],
) -> list[dict[str, Any]]:
    """Ledger entries naming the pupil, each with its inclusion proof against ``cp``."""
    key = keys.digest_key(home)
    digests = [keys.pupil_digest(key, k) for k in aliases]
    idx: set[int] = set()
    for d in digests:  # one equality each: row-group min/max prune (digests sorted)
        idx |= {
            int(r[0])
            for r in store.rows(
                "SELECT DISTINCT entry_index FROM ledger_pupils WHERE pupil_digest = ?",
                [d],
            )
        }
    if not idx:
        return []
    out = []
    for i in sorted(idx):
        e = {"leaf": leaves[i].hex(), "leaf_hash": hashes[i].hex()}
        fields = json.loads(leaves[i])
        out.append(
            {
                "entry_index": i,
                "recipient": fields.get("recipient"),
                "date": str(fields.get("created_at", ""))[:10],
                "purpose": fields.get("purpose"),
                "level": fields.get("level"),
                "agreement_id": fields.get("agreement_id"),
                "kind": fields.get("kind"),
                "leaf": e["leaf"],
                "leaf_hash": e["leaf_hash"],
                "tree_size": cp.tree_size,
                "inclusion_path": [h.hex() for h in merkle.inclusion_path(i, hashes)],
            }
        )
    return out


def _purposes(
    records: list[dict[str, Any]], disclosures: list[dict[str, Any]]
) -> list[dict[str, str]]:
    out = []
    for ds in sorted({r["dataset"] for r in records}):
        out.append({"dataset": ds, "why_held": catalogue.dataset(ds).description})
    for d in disclosures:
        if d["kind"] == "release":
            out.append(
                {
                    "dataset": ", ".join(
                        sorted(
                            {
                                i.split(".")[0]
                                for i in json.loads(bytes.fromhex(d["leaf"])).get(
                                    "items", []
                                )
                            }
                        )
                    ),
                    "shared_for": f"{d['purpose']} ({d['recipient']})",
                }
            )
    return out


def _opt_outs(store: Store, key: int) -> list[dict[str, Any]]:
    if not store.exists("opt_outs"):
        return []
    return [
        {"type": s, "since": str(t)}
        for s, t in store.rows(
            "SELECT scope, recorded_at FROM opt_outs WHERE pupil_key = ? ORDER BY 1",
            [key],
        )
    ]


def overdue_days(req: dict[str, Any], today: date | None = None) -> int:
    return max(0, ((today or date.today()) - req["due_date"]).days)
