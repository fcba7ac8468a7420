"""Many entries appended in one transaction: for services that answer faster than
one append each (the learner service's look-ups).

The tree is read as its compact range (the roots of its perfect subtrees, largest
first, kept in the store: ``tree``; or kept from this process's last batch), so
each new entry's root costs O(log n) hashes and its signed head is exactly what
``log.append`` would have made for it. Each
entry's people are given as keyed digests (``digest``), already computed.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pyarrow as pa

from pupilshare.config import Home
from pupilshare.ledger import keys, log, merkle, tree
from pupilshare.store import Store


def digest(home: Home, value: str | int) -> bytes:
    """The keyed digest the ledger keeps of a person's key (``keys.digest_sql`` of
    the same text): a pupil key, or another stable key such as ``uln:NNNNNNNNNN``."""
    return hmac.new(keys.digest_key(home), str(value).encode(), hashlib.sha256).digest()


def digests(home: Home, values: list[str]) -> list[bytes]:
    """``digest`` of each value, the key read once (a batch's people)."""
    key = keys.digest_key(home)
    return [hmac.new(key, str(v).encode(), hashlib.sha256).digest() for v in values]


ENTRY_COLUMNS = (
    "entry_index, kind, release_id, agreement_id, created_at, row_count, leaf, "
    "leaf_hash, tree_size, root_hash, signature"
)
_TYPES = (
    pa.int64(),
    pa.string(),
    pa.string(),
    pa.string(),
    pa.string(),
    pa.int64(),
    pa.binary(),
    pa.binary(),
    pa.int64(),
    pa.binary(),
    pa.binary(),
)


def _columns(rows: list[list[Any]]) -> dict[str, pa.Array]:
    names = [c.strip() for c in ENTRY_COLUMNS.split(",")]
    return {
        name: pa.array([r[i] for r in rows], kind)
        for i, (name, kind) in enumerate(zip(names, _TYPES, strict=True))
    }


# the tree's compact range after the last batch this process appended, by store:
# used only while the ledger's newest signed head is still that tree's
_PEAKS: dict[str, tuple[int, list[tuple[int, bytes]]]] = {}


def _peaks(store: Store) -> tuple[int, list[tuple[int, bytes]]]:
    """Inside the append's transaction: the tree's size and compact range, kept
    from this process's last batch when the ledger's newest entry still has that
    size and root (no one else appended), else read from the store's kept tree
    (``tree.peaks``: O(log n) hashes)."""
    n = tree.current(store)
    kept = _PEAKS.get(store.path)
    if kept is not None and kept[0] == n and kept[1]:
        head = store.rows(
            "SELECT root_hash FROM ledger_entries ORDER BY entry_index DESC LIMIT 1"
        )
        if head and tree.peaks_root(kept[1]) == bytes(head[0][0]):
            return n, list(kept[1])
    return n, tree.peaks(store, n)


def append_many(
    store: Store, home: Home, entries: list[tuple[dict[str, Any], list[bytes]]]
) -> list[int]:
    """Append ``(fields, digests)`` entries in order, in one transaction; their
    indexes. ``fields["release_id"]``, when given, must be unique (callers use it
    to make a retried batch idempotent)."""
    if not entries:
        return []
    for fields, _ in entries:
        if fields.get("kind") not in log.KINDS:
            raise ValueError(f"unknown ledger entry kind {fields.get('kind')!r}")
    log.ensure(store)
    key = keys.signing_key(home)
    out: list[int] = []
    with store.transaction():
        n, peaks = _peaks(store)
        nodes: list[tuple[int, int, int, bytes]] = []
        rows: list[list[Any]] = []
        pupils_idx: list[int] = []
        pupils_dig: list[bytes] = []
        for fields, digests in entries:
            fields = dict(fields)
            ds = sorted(set(digests))
            if digests:
                h = hashlib.sha256(b"".join(ds)).hexdigest()
                fields["pupils"] = {"count": len(ds), "sha256": h}
                pupils_idx.extend([n] * len(ds))
                pupils_dig.extend(ds)
            leaf = log.canonical(fields)
            lh = merkle.leaf_hash(leaf)
            nodes += [(lv, ix, n, h) for lv, ix, h in tree.push(peaks, lh, n)]
            root = tree.peaks_root(peaks)
            sig = key.sign(log.head_text(n + 1, root))
            rows.append(
                [
                    n,
                    fields["kind"],
                    fields.get("release_id"),
                    fields.get("agreement_id"),
                    str(fields.get("created_at", "")),
                    fields.get("row_count"),
                    leaf,
                    lh,
                    n + 1,
                    root,
                    sig,
                ]
            )
            out.append(n)
            n += 1
        # one Arrow table, inserted in one statement (row-by-row executemany
        # costs about a millisecond an entry in DuckDB)
        store.register("_batch_entries", pa.table(_columns(rows)))
        store.rows(
            f"INSERT INTO ledger_entries SELECT {ENTRY_COLUMNS} FROM _batch_entries"
        )
        store.unregister("_batch_entries")
        tree.insert(store, nodes)
        if pupils_idx:
            store.register(
                "_batch_pupils",
                pa.table(
                    {
                        "entry_index": pa.array(pupils_idx, pa.int64()),
                        "pupil_digest": pa.array(pupils_dig, pa.binary()),
                    }
                ),
            )
            store.rows("INSERT INTO ledger_pupils SELECT * FROM _batch_pupils")
            store.unregister("_batch_pupils")
    _PEAKS[store.path] = (n, peaks)  # committed: the next batch starts here
    return out


def entries_for(
    store: Store, digests: list[bytes], kinds: tuple[str, ...] = ("lookup",)
) -> list[dict[str, Any]]:
    """The entries (fields, with ``index``) that name any of these digests."""
    import json

    if not digests or not store.exists("ledger_entries"):
        return []
    marks = ", ".join("?" for _ in digests)
    kinds_sql = ", ".join(f"'{k}'" for k in kinds)
    rows = store.rows(
        "SELECT DISTINCT e.entry_index, e.leaf FROM ledger_entries e "
        "JOIN ledger_pupils p ON p.entry_index = e.entry_index "
        f"WHERE p.pupil_digest IN ({marks}) AND e.kind IN ({kinds_sql}) "
        "ORDER BY e.entry_index",
        list(digests),
    )
    return [{"index": int(i), **json.loads(bytes(leaf))} for i, leaf in rows]


def present(store: Store, release_ids: list[str]) -> set[str]:
    """Which of these ``release_id`` values the ledger already holds."""
    if not release_ids or not store.exists("ledger_entries"):
        return set()
    marks = ", ".join("?" for _ in release_ids)
    return {
        r[0]
        for r in store.rows(
            f"SELECT release_id FROM ledger_entries WHERE release_id IN ({marks})",
            release_ids,
        )
    }
