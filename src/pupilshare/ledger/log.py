"""The disclosure ledger: an append-only RFC 6962 log of entries in the store.

Each entry is one disclosure. Its leaf is the canonical JSON of its fields (sorted
keys, no spaces, UTF-8): those exact bytes are hashed, exported and proved. Pupils
are not in the leaf; the leaf commits to them by count and by the SHA-256 of their
sorted keyed digests, which sit in ``ledger_pupils`` (digests only).

Every append signs the head it makes (tree size and root), and the row keeps that
signed head: ``verify`` can then say which entry was the first to be edited, deleted,
inserted or reordered, not only that the root is wrong. The newest head is also
written to ``HOME/ledger/head.json`` outside the store.

Appends run inside the caller's store transaction: the release record and its ledger
entry commit together or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pupilshare.config import Home
from pupilshare.ledger import keys, merkle, tree
from pupilshare.store import Store

ORIGIN = "pupilshare disclosure ledger"
PAUSE_ENV = "PUPILSHARE_LEDGER_PAUSE"
KINDS = ("release", "lookup", "survey_sample", "subject_access", "watch_event")

DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_entries (entry_index BIGINT NOT NULL, "
    "kind VARCHAR NOT NULL, release_id VARCHAR, agreement_id VARCHAR, "
    "created_at VARCHAR NOT NULL, row_count BIGINT, leaf BLOB NOT NULL, "
    "leaf_hash BLOB NOT NULL, tree_size BIGINT NOT NULL, root_hash BLOB NOT NULL, "
    "signature BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger_pupils (entry_index BIGINT NOT NULL, "
    "pupil_digest BLOB NOT NULL)",
    tree.DDL,
)


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: what outsiders keep to hold the department to its log."""

    tree_size: int
    root_hash: bytes
    signature: bytes
    public_key: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "signature": self.signature.hex(),
            "public_key": self.public_key.hex(),
        }

    def valid(self) -> bool:
        return signature_valid(
            self.public_key, self.tree_size, self.root_hash, self.signature
        )


def head_text(tree_size: int, root_hash: bytes) -> bytes:
    """What is signed: the C2SP checkpoint body (origin, size, base64 root)."""
    root64 = base64.b64encode(root_hash).decode()
    return f"{ORIGIN}\n{tree_size}\n{root64}\n".encode()


def signature_valid(public_key: bytes, size: int, root: bytes, sig: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            sig, head_text(size, root)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def ensure(store: Store) -> None:
    have = store.one(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN "
        "('ledger_entries', 'ledger_pupils', 'ledger_nodes')"
    )
    if have != 3:
        for ddl in DDL:
            store.rows(ddl)


def size(store: Store) -> int:
    if not store.exists("ledger_entries"):
        return 0
    return int(store.one("SELECT count(*) FROM ledger_entries") or 0)


def leaf_hashes(store: Store, upto: int | None = None) -> list[bytes]:
    """Leaf hashes recomputed from the leaves themselves, in entry order."""
    if not store.exists("ledger_entries"):
        return []
    rows = store.rows(
        "SELECT leaf FROM ledger_entries ORDER BY entry_index"
        + (f" LIMIT {int(upto)}" if upto is not None else "")
    )
    return [merkle.leaf_hash(bytes(r[0])) for r in rows]


def pupils_commitment(store: Store, digests_sql: str) -> tuple[int, str]:
    """(count, SHA-256 hex of the sorted digests concatenated) of a digest query.

    Hashes the Arrow column's data buffer directly: one pass, no Python loop."""
    t = store.arrow(f"SELECT d FROM ({digests_sql}) s(d) ORDER BY d")
    col = t.column(0).combine_chunks().cast(pa.large_binary())
    h = hashlib.sha256()
    if len(col):
        offsets = np.frombuffer(
            col.buffers()[1], dtype=np.int64, count=len(col) + 1, offset=8 * col.offset
        )
        h.update(memoryview(col.buffers()[2])[int(offsets[0]) : int(offsets[-1])])
    return len(col), h.hexdigest()


def append(
    store: Store, home: Home, fields: dict[str, Any], pupil_keys_sql: str | None = None
) -> int:
    """Append one entry (inside the caller's transaction); returns its index.

    ``pupil_keys_sql`` selects the pupil keys the disclosure held (column
    ``pupil_key``); they are stored only as keyed digests.
    """
    return append_with_tree(store, home, fields, pupil_keys_sql)[0]


def append_with_tree(
    store: Store,
    home: Home,
    fields: dict[str, Any],
    pupil_keys_sql: str | None = None,
    *,
    pupil_keys: list[int] | None = None,
    tables: set[str] | None = None,
) -> tuple[int, bytes]:
    """``append``, also returning the root of the tree it made (its size is the
    index plus one), for a checkpoint and proofs without reading the log again.

    The tree's perfect subtrees are kept in the store (``tree``): the new root
    costs O(log n) reads and hashes, however long the ledger.

    ``pupil_keys``: the few pupils of a small disclosure (a subject access answer),
    digested here rather than in SQL; ``tables``: the store's tables, if known."""
    if fields.get("kind") not in KINDS:
        raise ValueError(f"unknown ledger entry kind {fields.get('kind')!r}")
    if (
        tables is None
        or not {"ledger_entries", "ledger_pupils", "ledger_nodes"} <= tables
    ):
        ensure(store)
    with store.transaction():
        index = tree.current(store)
        peaks = tree.peaks(store, index)
        fields = dict(fields)
        if pupil_keys is not None:
            key = keys.digest_key(home)
            digests = sorted({keys.pupil_digest(key, k) for k in pupil_keys})
            if digests:
                store.rows(
                    "INSERT INTO ledger_pupils SELECT ?, unnest(?::BLOB[])",
                    [index, digests],
                )
            fields["pupils"] = {
                "count": len(digests),
                "sha256": hashlib.sha256(b"".join(digests)).hexdigest(),
            }
        elif pupil_keys_sql is not None:
            dsql = keys.digest_sql(keys.digest_key(home), "pupil_key")
            # sorted within the entry: row-group min/max then find one pupil's
            # entries (subject access) without an index over every release
            store.rows(
                f"INSERT INTO ledger_pupils SELECT {index}, {dsql} FROM "
                f"(SELECT DISTINCT pupil_key FROM ({pupil_keys_sql}) k "
                "WHERE pupil_key IS NOT NULL) ORDER BY 2"
            )
            count, sha = pupils_commitment(
                store,
                f"SELECT pupil_digest FROM ledger_pupils WHERE entry_index = {index}",
            )
            fields["pupils"] = {"count": count, "sha256": sha}
        leaf = canonical(fields)
        leaf_h = merkle.leaf_hash(leaf)
        made = tree.push(peaks, leaf_h, index)
        tree.insert(store, [(lv, ix, index, h) for lv, ix, h in made])
        root = tree.peaks_root(peaks)
        key = keys.signing_key(home)
        sig = key.sign(head_text(index + 1, root))
        _pause()
        store.rows(
            "INSERT INTO ledger_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                index,
                fields["kind"],
                fields.get("release_id"),
                fields.get("agreement_id"),
                str(fields.get("created_at", "")),
                fields.get("row_count"),
                leaf,
                leaf_h,
                index + 1,
                root,
                sig,
            ],
        )
    return index, root


def _pause() -> None:
    """Crash drills: wait inside the append's transaction (seconds in
    ``PUPILSHARE_LEDGER_PAUSE``), so a test can kill a release there."""
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    if seconds:
        import time

        time.sleep(seconds)


def write_head(home: Home, cp: Checkpoint) -> None:
    """The newest head, outside the store (written after the commit): a later
    ``verify`` finds entries cut from the end of the log by it."""
    path = home.root / "ledger" / "head.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cp.as_json(), indent=2) + "\n")
    os.replace(tmp, path)


def read_head(home: Home) -> Checkpoint | None:
    path = home.root / "ledger" / "head.json"
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    return Checkpoint(
        int(d["tree_size"]),
        bytes.fromhex(d["root_hash"]),
        bytes.fromhex(d["signature"]),
        bytes.fromhex(d["public_key"]),
    )


def checkpoint(
    store: Store,
    home: Home,
    tree_size: int | None = None,
    hashes: list[bytes] | None = None,
) -> Checkpoint:
    """A freshly signed head of the first ``tree_size`` entries (default all), from
    the tree's stored perfect subtrees: O(log n) reads, however long the ledger
    (``verify`` is what recomputes them from the leaves); or of ``hashes`` already
    read."""
    if hashes is not None:
        return signed(home, len(hashes), merkle.root(hashes))
    with store.transaction():  # one snapshot: the size and its subtrees
        size = log_size(store) if tree_size is None else int(tree_size)
        root = tree.peaks_root(tree.peaks(store, size))
    return signed(home, size, root)


def log_size(store: Store) -> int:
    """The log's size, with its stored tree made whole first (``tree.current``)."""
    if not store.exists("ledger_entries"):
        return 0
    with store.transaction():
        return tree.current(store)


def signed(home: Home, tree_size: int, root: bytes) -> Checkpoint:
    """The head of ``tree_size`` entries and ``root``, signed now."""
    key = keys.signing_key(home)
    return Checkpoint(
        tree_size,
        root,
        key.sign(head_text(tree_size, root)),
        keys.public_key_bytes(key),
    )


def entry(store: Store, index: int) -> dict[str, Any]:
    """Entry ``index``: its fields, leaf (hex) and leaf hash."""
    rows = (
        store.rows(
            "SELECT leaf FROM ledger_entries WHERE entry_index = ?", [int(index)]
        )
        if store.exists("ledger_entries")
        else []
    )
    if not rows:
        from pupilshare.errors import NotFound

        raise NotFound(f"no ledger entry {index}")
    leaf = bytes(rows[0][0])
    return {
        "index": int(index),
        "leaf": leaf.hex(),
        "leaf_hash": merkle.leaf_hash(leaf).hex(),
        **json.loads(leaf),
    }


def prove(
    store: Store, home: Home, index: int, from_size: int | None = None
) -> dict[str, Any]:
    """An inclusion proof of entry ``index`` against a freshly signed checkpoint of
    the whole log, and a consistency proof from ``from_size`` to it: the few
    stored subtrees each proof reads, fetched in one query (``tree.read``)."""
    from pupilshare.errors import InvalidInput

    def work(n: merkle.Nodes) -> tuple[Any, ...]:
        return (
            n.root(),
            n.get(0, index),
            n.inclusion_path(index),
            None if from_size is None else n.root(from_size),
            None if from_size is None else n.consistency_proof(from_size),
        )

    with store.transaction():  # one snapshot: the size and its subtrees
        size = log_size(store)
        if not 0 <= index < size:
            raise InvalidInput(f"entry {index} is not in a ledger of {size}")
        if from_size is not None and not 1 <= from_size <= size:
            raise InvalidInput(f"--from-size must be 1 to {size}")
        root, leaf_h, path, old_root, proof = work(tree.read(store, size, work))
    cp = signed(home, size, root)
    out: dict[str, Any] = {
        "checkpoint": cp.as_json(),
        "inclusion": {
            "leaf_index": index,
            "tree_size": size,
            "leaf_hash": leaf_h.hex(),
            "path": [h.hex() for h in path],
        },
    }
    if from_size is not None:
        out["consistency"] = {
            "old_size": from_size,
            "new_size": size,
            "old_root": old_root.hex(),
            "proof": [h.hex() for h in proof],
        }
    return out


def aliases_sql(store: Store) -> str:
    """(pupil_key, alias_key): every key a current pupil has had, itself included, so
    ledger digests of a key retired by a merge still find the pupil."""
    own = "SELECT pupil_key, pupil_key AS alias_key FROM pupils"
    if not store.exists("pupil_merges"):
        return own
    return (
        "WITH RECURSIVE chain(retired_key, pupil_key) AS ("
        "SELECT retired_key, pupil_key FROM pupil_merges UNION "
        "SELECT c.retired_key, m.pupil_key FROM chain c "
        "JOIN pupil_merges m ON m.retired_key = c.pupil_key) "
        f"{own} UNION SELECT c.pupil_key, c.retired_key FROM chain c "
        "SEMI JOIN pupils p ON p.pupil_key = c.pupil_key"
    )
