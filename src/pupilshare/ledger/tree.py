"""The ledger's Merkle tree kept in the store, so an append, a root or a proof reads
O(log n) hashes rather than every leaf of a ledger that grows by every disclosure.

``ledger_nodes(level, node_index, last_leaf, hash)`` holds the hash of every perfect
subtree (``2^level`` leaves from ``node_index * 2^level``, level 1 up) from the
moment it is complete; ``last_leaf`` is the entry that completed it, so rows go in
in ``last_leaf`` order and a read of a few nodes is pruned to their row groups. The
leaves' own hashes are ``ledger_entries.leaf_hash``. The table is written in the
append's transaction and, for a store made before it (or any count that disagrees
with the log's size), rebuilt from the leaves first. ``ledger verify`` recomputes it
from the leaves and names the first node that disagrees.
"""

from __future__ import annotations

import pyarrow as pa

from pupilshare.ledger import merkle
from pupilshare.ledger.merkle import Node
from pupilshare.store import Store

DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_nodes (level INTEGER NOT NULL, "
    "node_index BIGINT NOT NULL, last_leaf BIGINT NOT NULL, hash BLOB NOT NULL)"
)
Peaks = list[tuple[int, bytes]]  # (leaves, hash) of the perfect subtrees, largest first


def expected(size: int) -> int:
    """How many perfect subtrees above the leaves a tree of ``size`` has."""
    return sum(size >> level for level in range(1, max(size, 1).bit_length()))


def push(peaks: Peaks, leaf_hash: bytes, index: int) -> list[tuple[int, int, bytes]]:
    """Add leaf ``index`` to the compact range ``peaks``; the perfect subtrees it
    completes, as (level, node_index, hash)."""
    made = []
    size, node = 1, leaf_hash
    while peaks and peaks[-1][0] == size:
        node = merkle.node_hash(peaks.pop()[1], node)
        size *= 2
        level = size.bit_length() - 1
        made.append((level, index >> level, node))
    peaks.append((size, node))
    return made


def peaks_root(peaks: Peaks) -> bytes:
    if not peaks:
        return merkle.EMPTY_ROOT
    node = peaks[-1][1]
    for _, left in reversed(peaks[:-1]):
        node = merkle.node_hash(left, node)
    return node


def all_nodes(hashes: list[bytes]) -> list[tuple[int, int, int, bytes]]:
    """Every perfect subtree of the tree of these leaf hashes, as rows of
    ``ledger_nodes`` (level, node_index, last_leaf, hash), in ``last_leaf`` order."""
    peaks: Peaks = []
    rows = []
    for i, h in enumerate(hashes):
        rows += [(lv, ix, i, x) for lv, ix, x in push(peaks, h, i)]
    return rows


def insert(store: Store, rows: list[tuple[int, int, int, bytes]]) -> None:
    if not rows:
        return
    store.register(
        "_ledger_nodes_new",
        pa.table(
            {
                "level": pa.array([r[0] for r in rows], pa.int32()),
                "node_index": pa.array([r[1] for r in rows], pa.int64()),
                "last_leaf": pa.array([r[2] for r in rows], pa.int64()),
                "hash": pa.array([r[3] for r in rows], pa.binary()),
            }
        ),
    )
    try:
        store.rows("INSERT INTO ledger_nodes SELECT * FROM _ledger_nodes_new")
    finally:
        store.unregister("_ledger_nodes_new")


def current(store: Store) -> int:
    """Inside the caller's transaction (the tables made: ``log.ensure``): the log's
    size, with ``ledger_nodes`` holding its perfect subtrees (rebuilt from the
    leaves if it does not)."""
    size, held = store.rows(
        "SELECT (SELECT count(*) FROM ledger_entries), "
        "(SELECT count(*) FROM ledger_nodes)"
    )[0]
    if held != expected(int(size)):
        rebuild(store)
    return int(size)


def rebuild(store: Store) -> None:
    rows = store.rows("SELECT leaf FROM ledger_entries ORDER BY entry_index")
    store.rows("DELETE FROM ledger_nodes")
    insert(store, all_nodes([merkle.leaf_hash(bytes(r[0])) for r in rows]))


def fetch(store: Store, nodes: set[Node]) -> dict[Node, bytes]:
    """The hashes of these perfect subtrees (level 0: leaf hashes), in one query."""
    leaves = sorted(i for lv, i in nodes if lv == 0)
    inner = sorted(((i + 1) << lv) - 1 for lv, i in nodes if lv > 0)
    parts = []
    if leaves:
        parts.append(
            "SELECT 0, entry_index, leaf_hash FROM ledger_entries WHERE entry_index "
            f"IN ({', '.join(str(int(i)) for i in leaves)})"
        )
    if inner:
        parts.append(
            "SELECT level, node_index, hash FROM ledger_nodes WHERE last_leaf "
            f"IN ({', '.join(str(int(p)) for p in sorted(set(inner)))})"
        )
    if not parts:
        return {}
    got = {
        (int(lv), int(i)): bytes(h)
        for lv, i, h in store.rows(" UNION ALL ".join(parts))
    }
    missing = nodes - got.keys()
    if missing:
        raise LookupError(f"the ledger's tree lacks nodes {sorted(missing)[:3]}")
    return {n: got[n] for n in nodes}


def peaks(store: Store, size: int) -> Peaks:
    """The compact range of the first ``size`` leaves, read from the store."""
    want, start = [], 0
    for level in range(max(size, 1).bit_length(), -1, -1):
        if size >> level & 1:
            want.append((level, start >> level))
            start += 1 << level
    got = fetch(store, set(want))
    return [(1 << lv, got[(lv, i)]) for lv, i in want]


def read(store: Store, size: int, work: object) -> merkle.Nodes:
    """A ``merkle.Nodes`` of the first ``size`` leaves holding exactly the nodes
    that ``work`` (a function of a ``merkle.Nodes``) reads, fetched in one query."""
    need = merkle.Nodes.needed(work, size)  # type: ignore[arg-type]
    got = fetch(store, need)
    return merkle.Nodes(size, lambda lv, i: got[(lv, i)])
