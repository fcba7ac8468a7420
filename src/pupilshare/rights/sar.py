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

import duckdb

from pupilshare import catalogue
from pupilshare.config import Home
from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.ledger import keys, log, merkle, tree
from pupilshare.rights import page
from pupilshare.rights.identity import (  # noqa: F401 (resolve: tests)
    Subject,
    candidates,
    check_requester,
    resolve,
)
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
# added since the table was first made (older stores gain them on first use)
LATER = (
    ("account", "VARCHAR"),  # the signed-in account that follows it online
    ("contact", "VARCHAR"),  # how the requester asked to be contacted
    ("identity_checked_at", "TIMESTAMP"),
    ("pack_dir", "VARCHAR"),  # where the answered pack was written
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
    *(c for c, _ in LATER),
)
# a request made online waits for the department to check who asked
AWAITING = "awaiting_identity"
PENDING_CHECK = "not yet checked (asked online)"


def ensure(store: Store) -> None:
    store.rows(DDL)
    for col, kind in LATER:
        store.rows(f"ALTER TABLE sar_requests ADD COLUMN IF NOT EXISTS {col} {kind}")


def _tables(store: Store) -> set[str]:
    return {r[0] for r in store.rows("SELECT table_name FROM duckdb_tables()")}


# single-column lookups: DuckDB answers an equality on an indexed column from the
# index (ART), and the pack asks nothing else of these tables
INDEXES = (
    ("pupil_links", "pupil_key"),
    ("pupils", "date_of_birth"),
    ("pupils", "pupil_key"),
    ("pupils", "upn"),
    ("pupil_identifiers", "value"),
    ("pupil_identifiers", "pupil_key"),
    ("ledger_pupils", "pupil_digest"),
)


def prepare(store: Store) -> None:
    """The lookup indexes a pack needs to stay fast at national scale (one pupil's
    links among tens of millions; candidates by identifier or date of birth; their
    ledger entries by digest). Made once, by the first request; later writes keep
    them up to date."""
    tables = _tables(store)
    for table, column in INDEXES:
        if table in tables:
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
    identity_check: str | None,
    recorded_by: str,
    child_consent: str | None = None,
    received: date | None = None,
    account: str | None = None,
    contact: str | None = None,
) -> str:
    """Record a request; returns its id. The requester rule is checked now.

    ``identity_check`` None: asked online by someone the department has not yet
    checked; the request waits (``AWAITING``) until ``check_identity``, and its
    one-month clock starts then (as the regulator's guidance has it)."""
    if identity_check is not None and not identity_check.strip():
        raise InvalidInput(
            "say how the requester's identity was checked (--identity-check)"
        )
    received = received or date.today()
    check_requester(who, requester, received, child_consent, access=True)
    ensure(store)
    rid = f"SAR-{received:%Y%m%d}-{secrets.token_hex(3)}"
    values = {
        "request_id": rid,
        "received_at": datetime.combine(received, now().time()),
        "due_date": one_month_after(received),
        "forename": who.forename,
        "surname": who.surname,
        "date_of_birth": who.date_of_birth,
        "upn": who.upn,
        "uln": who.uln,
        "requester": requester,
        "requester_name": requester_name,
        "identity_check": identity_check or PENDING_CHECK,
        "child_consent": child_consent,
        "recorded_by": recorded_by,
        "status": "open" if identity_check else AWAITING,
        "account": account,
        "contact": contact,
        "identity_checked_at": now() if identity_check else None,
    }
    store.rows(
        f"INSERT INTO sar_requests ({', '.join(values)}) "
        f"VALUES ({', '.join('?' for _ in values)})",
        list(values.values()),
    )
    return rid


def check_identity(
    store: Store,
    request_id: str,
    identity_check: str,
    checked_by: str,
    account: str | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Record how an online requester's identity was checked: the request opens,
    its deadline a month from today; ``account`` lets them follow it online."""
    if not identity_check.strip():
        raise InvalidInput("say how the requester's identity was checked")
    req = get(store, request_id)
    if req["status"] != AWAITING:
        raise Conflict(f"{request_id} is not waiting for an identity check")
    today = today or date.today()
    store.rows(
        "UPDATE sar_requests SET status = 'open', identity_check = ?, "
        "identity_checked_at = ?, due_date = ?, recorded_by = recorded_by || "
        "'; checked by ' || ?, account = coalesce(?, account) WHERE request_id = ?",
        [
            identity_check,
            now(),
            one_month_after(today),
            checked_by,
            account,
            request_id,
        ],
    )
    return get(store, request_id)


def requests(
    store: Store,
    overdue: bool = False,
    today: date | None = None,
    account: str | None = None,
) -> list[dict[str, Any]]:
    """Requests by deadline; ``overdue``: open and past it; ``account``: only those
    that account follows. Reads only (the web service's store is read-only)."""
    if "sar_requests" not in _tables(store):
        return []
    where, params = [], []
    if overdue:
        where.append("status = 'open' AND due_date < ?")
        params.append(today or date.today())
    if account is not None:
        where.append("account = ?")
        params.append(account)
    rows = store.rows(
        f"SELECT {', '.join(COLS)} FROM sar_requests "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY due_date, request_id",
        params,
    )
    return [dict(zip(COLS, r, strict=True)) for r in rows]


def get(store: Store, request_id: str) -> dict[str, Any]:
    return _get(store, request_id)[0]


def _get(store: Store, request_id: str) -> tuple[dict[str, Any], set[str]]:
    """The request, and the store's tables (one statement)."""
    try:
        rows = store.rows(
            f"SELECT {', '.join(COLS)}, (SELECT list(table_name) FROM "
            "duckdb_tables()) FROM sar_requests WHERE request_id = ?",
            [request_id],
        )
    except duckdb.CatalogException:  # no request yet, or an older table
        rows = []
    if not rows:
        raise NotFound(f"no subject access request {request_id}")
    return dict(zip(COLS, rows[0][:-1], strict=True)), set(rows[0][-1])


def pack_file(req: dict[str, Any], kind: str) -> Path | None:
    """The answered pack's file (``html`` or ``json``), if it is still there."""
    if req["status"] == AWAITING or req["status"] == "open" or not req["pack_dir"]:
        return None
    path = Path(req["pack_dir"]) / f"{req['request_id']}.{kind}"
    return path if path.is_file() else None


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
    """Write the response pack (JSON and a self-contained HTML page) into ``out``.

    A handful of statements, each a point read on an indexed or sorted key (see
    ``INDEXES``): the request; the candidates (by UPN, else by date of birth and
    surname: ``identity.candidates``); the pupil's other
    keys, identifiers and opt-outs together; their links; every linked record of
    every dataset in one statement; the ledger append; their ledger entries."""
    req, tables = _get(store, request_id)
    if req["status"] == AWAITING:
        raise Conflict(
            f"{request_id}: the requester's identity has not been checked yet "
            "(pupilshare sar check)"
        )
    if req["status"] != "open":
        raise Conflict(f"{request_id} was already answered ({req['status']})")
    who = Subject(
        req["forename"], req["surname"], req["date_of_birth"], req["upn"], req["uln"]
    )
    found = candidates(store, who, tables)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    pack: dict[str, Any] = {"request": _public_request(req)}
    records: list[dict[str, Any]] = []
    disclosures: list[dict[str, Any]] = []
    if len(found) != 1:
        outcome = "no_match" if not found else "several"
        pack["outcome"] = outcome
        pack["message"] = (
            "We hold no record that matches every detail given."
            if not found
            else "More than one pupil matches the details given, so we cannot "
            "tell which records are yours: please send a Unique Pupil Number or more "
            "details."
        )
        store.rows(
            "UPDATE sar_requests SET status = ?, answered_at = ?, "
            "answered_by = ?, pack_dir = ? WHERE request_id = ?",
            [outcome, now(), answered_by, str(out), request_id],
        )
    else:
        outcome = "answered"
        key = found[0]
        facts = _facts(store, key, tables)
        records = _records(store, facts["links"], tables)
        with store.transaction():
            entry, root = log.append_with_tree(
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
                pupil_keys=[key],
                tables=tables,
            )
            store.rows(
                "UPDATE sar_requests SET ledger_entry = ?, status = ?, "
                "answered_at = ?, answered_by = ?, pack_dir = ? WHERE request_id = ?",
                [entry, outcome, now(), answered_by, str(out), request_id],
            )
        cp = log.signed(home, entry + 1, root)
        log.write_head(home, cp)
        disclosures = _disclosures(store, home, facts["aliases"], cp)
        pupil = facts["pupil"]
        if facts["identifiers"] is not None:
            pupil["identifiers"] = facts["identifiers"]
        pack.update(
            {
                "outcome": outcome,
                "pupil": pupil,
                "records": records,
                "purposes": _purposes(records, disclosures),
                "disclosures": disclosures,
                "opt_outs": facts["opt_outs"],
                "checkpoint": cp.as_json(),
            }
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


PUPIL_COLS = ("upn", "uln", "forename", "surname", "date_of_birth", "sex", "postcode")


def _facts(store: Store, key: int, tables: set[str]) -> dict[str, Any]:
    """In one statement of point reads by key: the pupil, their identifiers, their
    opt-outs in force, their links, and whether other keys were merged into theirs
    (then, rarely, the merged keys and their links too)."""
    parts = [f"p.{c}" for c in PUPIL_COLS]
    lists = {
        "identifiers": (
            "pupil_identifiers",
            "{'kind': kind, 'value': value} ORDER BY kind, value",
        ),
        "opt_outs": (
            "opt_outs",
            "{'type': scope, 'since': CAST(recorded_at AS VARCHAR)} ORDER BY scope",
        ),
        "links": (
            "pupil_links",
            "{'dataset': dataset, 'collection_id': collection_id, 'line': line}",
        ),
    }
    for table, item in lists.values():
        parts.append(
            f"(SELECT list({item}) FROM {table} WHERE pupil_key = {int(key)})"
            if table in tables
            else "NULL"
        )
    parts.append(
        f"(SELECT count(*) FROM pupil_merges WHERE pupil_key = {int(key)})"
        if "pupil_merges" in tables
        else "0"
    )
    row = store.rows(
        f"SELECT {', '.join(parts)} FROM pupils p WHERE p.pupil_key = {int(key)}"
    )[0]
    n = len(PUPIL_COLS)
    idents, opt_outs, links, merged = row[n:]
    aliases = [key]
    links = [(x["dataset"], x["collection_id"], x["line"]) for x in links or []]
    if merged:
        aliases = sorted(
            {
                key,
                *(
                    int(r[0])
                    for r in store.rows(
                        "WITH RECURSIVE up(k) AS (SELECT ?::BIGINT UNION SELECT "
                        "m.retired_key FROM pupil_merges m JOIN up ON "
                        "m.pupil_key = up.k) SELECT k FROM up",
                        [key],
                    )
                ),
            }
        )
        links += store.rows(
            " UNION ALL ".join(
                "SELECT dataset, collection_id, line FROM pupil_links "
                f"WHERE pupil_key = {int(k)}"
                for k in aliases
                if k != key
            )
        )
    return {
        "pupil": dict(zip(PUPIL_COLS, row[:n], strict=True)),
        "aliases": aliases,
        "identifiers": (
            None if "pupil_identifiers" not in tables else list(idents or [])
        ),
        "opt_outs": list(opt_outs or []),
        "links": links,
    }


def _records(
    store: Store, links: list[tuple[str, int, int]], tables: set[str]
) -> list[dict[str, Any]]:
    """Every record linked to the pupil, in every dataset, with its source file: one
    statement of point reads, each on a dataset's (collection, line), which loads
    keep in order."""
    reads = []
    for ds_name, cid, line in sorted(set(links)):
        table = catalogue.dataset(ds_name).table
        if table in tables:
            reads.append(
                f"SELECT '{ds_name}' AS dataset, {int(cid)} AS collection_id, "
                f"{int(line)} AS line, CAST(to_json(d) AS VARCHAR) AS v FROM "
                f"{table} d WHERE d.collection_id = {int(cid)} AND d.line = {int(line)}"
            )
    if not reads:
        return []
    cids = ", ".join(sorted({str(int(c)) for _, c, _ in links}))
    src = (
        f"LEFT JOIN (SELECT collection_id, file_name, CAST(received_at AS VARCHAR) "
        f"AS received FROM collections WHERE collection_id IN ({cids})) c "
        "USING (collection_id)"
        if "collections" in tables
        else "LEFT JOIN (SELECT NULL::BIGINT AS collection_id, NULL AS file_name, "
        "NULL AS received) c USING (collection_id)"
    )
    rows = store.rows(
        f"SELECT r.dataset, r.collection_id, r.line, c.file_name, c.received, r.v "
        f"FROM ({' UNION ALL '.join(reads)}) r {src} "
        "ORDER BY r.dataset, r.collection_id, r.line"
    )
    out = []
    for ds_name, cid, line, file_name, received, v in rows:
        values = json.loads(v)
        for k in ("collection_id", "line"):
            values.pop(k, None)
        out.append(
            {
                "dataset": ds_name,
                "source_file": file_name,
                "received": received,
                "line": line,
                "collection_id": cid,
                "values": {k: x for k, x in values.items() if x is not None},
            }
        )
    return out


def _disclosures(
    store: Store, home: Home, aliases: list[int], cp: log.Checkpoint
) -> list[dict[str, Any]]:
    """Ledger entries naming the pupil (an equality per key on the digest index),
    each with its inclusion proof against ``cp``: their leaves, then the few tree
    nodes their proofs need (``ledger.tree``), by entry index."""
    key = keys.digest_key(home)
    digests = [keys.pupil_digest(key, k) for k in aliases]
    rows = store.rows(
        " UNION ".join(
            "SELECT entry_index FROM ledger_pupils WHERE pupil_digest = ?"
            for _ in digests
        ),
        digests,
    )
    idx = sorted({int(r[0]) for r in rows if int(r[0]) < cp.tree_size})
    if not idx:
        return []
    leaves = {
        int(i): bytes(leaf)
        for i, leaf in store.rows(
            "SELECT entry_index, leaf FROM ledger_entries WHERE entry_index IN "
            f"({', '.join(str(i) for i in idx)})"
        )
    }

    def paths(t: merkle.Nodes) -> list[list[bytes]]:
        return [t.inclusion_path(i) for i in idx]

    nodes = tree.read(store, cp.tree_size, paths)
    out = []
    for i, path in zip(idx, paths(nodes), strict=True):
        leaf = leaves[i]
        fields = json.loads(leaf)
        out.append(
            {
                "entry_index": i,
                "recipient": fields.get("recipient"),
                "date": str(fields.get("created_at", ""))[:10],
                "purpose": fields.get("purpose"),
                "level": fields.get("level"),
                "agreement_id": fields.get("agreement_id"),
                "kind": fields.get("kind"),
                "leaf": leaf.hex(),
                "leaf_hash": merkle.leaf_hash(leaf).hex(),
                "tree_size": cp.tree_size,
                "inclusion_path": [h.hex() for h in path],
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
            items = json.loads(bytes.fromhex(d["leaf"])).get("items", [])
            out.append(
                {
                    "dataset": ", ".join(sorted({i.split(".")[0] for i in items})),
                    "shared_for": f"{d['purpose']} ({d['recipient']})",
                }
            )
    return out


def overdue_days(req: dict[str, Any], today: date | None = None) -> int:
    return max(0, ((today or date.today()) - req["due_date"]).days)
