"""The subject access response as one self-contained HTML page (no scripts, no links
out): what we hold, why, who it was shared with, and how to check each disclosure
against the ledger's signed checkpoint with any RFC 6962 code."""

from __future__ import annotations

import html
from typing import Any

STYLE = (
    "body{font-family:Arial,sans-serif;max-width:60em;margin:2em auto;"
    "color:#0b0c0c}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #b1b4b6;padding:4px 8px;text-align:left;"
    "vertical-align:top}code,pre{font-size:85%;word-break:break-all;"
    "white-space:pre-wrap}"
)

HOW_TO_CHECK = """Each disclosure above is an entry of our public disclosure ledger, a
Merkle tree built exactly as Certificate Transparency's (RFC 6962). To check one
without trusting us:
1. Check the signature: Ed25519, public key above, over the text
   "pupilshare disclosure ledger\\n<tree size>\\n<base64 of the root hash>\\n".
2. Hash the entry: leaf hash = SHA-256(0x00 || leaf bytes) (leaf shown in hex).
3. Walk the inclusion path (RFC 9162 section 2.1.3.2) from the leaf hash, combining
   with SHA-256(0x01 || left || right); the result must equal the root hash.
In Python:

import hashlib
def h(b): return hashlib.sha256(b).digest()
def root_from_path(index, size, leaf_hex, path_hex):
    fn, sn, r = index, size - 1, h(b"\\x00" + bytes.fromhex(leaf_hex))
    for p in map(bytes.fromhex, path_hex):
        if fn & 1 or fn == sn:
            r = h(b"\\x01" + p + r)
            while fn and not fn & 1:
                fn >>= 1; sn >>= 1
        else:
            r = h(b"\\x01" + r + p)
        fn >>= 1; sn >>= 1
    return r.hex()   # equals the checkpoint's root_hash when sn == 0

Keep the checkpoint: a later checkpoint must be consistent with it
(pupilshare ledger prove N --from-size SIZE --json gives the proof)."""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render(pack: dict[str, Any]) -> str:
    req = pack["request"]
    parts = [
        f"<h1>Your subject access request {_e(req['request_id'])}</h1>",
        f"<p>Received {_e(req['received_at'])}; answer due by "
        f"{_e(req['due_date'])}. Asked by the {_e(req['requester'])}; identity "
        f"checked by: {_e(req['identity_check'])}.</p>",
    ]
    if pack["outcome"] != "answered":
        parts.append(f"<p><strong>{_e(pack['message'])}</strong></p>")
        return _page(parts)
    p = pack["pupil"]
    parts += [
        "<h2>Who we hold this about</h2>",
        _table(
            [{k: v for k, v in p.items() if k != "identifiers"}],
            [k for k in p if k != "identifiers"],
        ),
    ]
    parts += [
        "<h2>Why we hold it and who it was shared for</h2>",
        _table(pack["purposes"], ["dataset", "why_held", "shared_for"]),
    ]
    parts.append(f"<h2>Every record we hold ({len(pack['records'])})</h2>")
    for r in pack["records"]:
        vals = "; ".join(f"{k}: {v}" for k, v in r["values"].items())
        parts.append(
            f"<p><strong>{_e(r['dataset'])}</strong>, from "
            f"{_e(r['source_file'])} line {_e(r['line'])}, received "
            f"{_e(r['received'])}<br><code>{_e(vals)}</code></p>"
        )
    parts.append(
        f"<h2>Every disclosure of your records ({len(pack['disclosures'])})</h2>"
    )
    parts.append(
        _table(
            pack["disclosures"],
            ["entry_index", "date", "recipient", "purpose", "level"],
        )
    )
    cp = pack["checkpoint"]
    parts += [
        "<h2>The ledger's signed checkpoint</h2>",
        _table([cp], ["tree_size", "root_hash", "signature", "public_key"]),
        "<h2>Proofs</h2>",
    ]
    for d in pack["disclosures"]:
        parts.append(
            f"<p>Entry {_e(d['entry_index'])} of {_e(d['tree_size'])}: "
            f"leaf <code>{_e(d['leaf'])}</code><br>inclusion path: "
            f"<code>{_e(' '.join(d['inclusion_path']) or '(none)')}</code>"
            "</p>"
        )
    parts += [
        "<h2>How to check a disclosure yourself</h2>",
        f"<pre>{_e(HOW_TO_CHECK)}</pre>",
    ]
    if pack.get("opt_outs"):
        parts += ["<h2>Your opt-outs</h2>", _table(pack["opt_outs"], ["type", "since"])]
    return _page(parts)


def _page(parts: list[str]) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Subject access response</title><style>{STYLE}</style></head>"
        "<body>" + "\n".join(parts) + "</body></html>\n"
    )
