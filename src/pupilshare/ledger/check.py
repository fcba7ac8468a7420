"""Checking the ledger: the tree recomputed from the leaves, each entry's signed head,
the head kept outside the store, and agreement with the store's release records.

The first problem is named by entry: an entry whose leaf no longer gives the root
its own signed head holds was edited; a head of a larger tree than the entry's place
means entries before it were deleted; a head of a smaller tree, inserted or moved.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pupilshare.config import Home
from pupilshare.ledger import keys, log, merkle, tree
from pupilshare.store import Store


@dataclass
class Report:
    tree_size: int = 0
    root_hash: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(home: Home) -> Report:
    with Store.open(home) as store:
        return verify_store(store, home)


def verify_store(store: Store, home: Home) -> Report:
    report = Report()
    if not store.exists("ledger_entries"):
        if store.exists("releases") and store.one("SELECT count(*) FROM releases"):
            report.problems.append("the store records releases but the ledger is empty")
        return report
    if not (home.keys_dir / keys.SIGNING_KEY).exists():
        report.problems.append(
            f"the ledger's signing key {keys.SIGNING_KEY} is "
            "missing from HOME/keys: no entry can be checked"
        )
        return report
    public = keys.public_key_bytes(keys.signing_key(home))
    rows = store.rows(
        "SELECT entry_index, leaf, tree_size, root_hash, signature, "
        "kind, release_id, agreement_id, row_count FROM ledger_entries "
        "ORDER BY entry_index, tree_size"
    )
    hashes: list[bytes] = []
    # the compact range of the leaves so far: each signed head is checked against
    # the running root in O(log n), so verifying is O(n log n), not O(n^2)
    peaks: tree.Peaks = []
    sizes = [int(r[2]) for r in rows]
    commitments = _small_commitments(store)
    for pos, (idx, leaf, size, root, sig, kind, rid, aid, nrows) in enumerate(rows):
        leaf = bytes(leaf)
        hashes.append(merkle.leaf_hash(leaf))
        tree.push(peaks, hashes[-1], pos)
        where = f"entry {pos}"
        if not log.signature_valid(public, int(size), bytes(root), bytes(sig)):
            report.problems.append(
                f"{where}: inserted (its signed head does not "
                "verify with the ledger's key)"
            )
            break
        if int(idx) != pos or int(size) != pos + 1:
            if int(size) in sizes[:pos]:
                report.problems.append(
                    f"{where}: inserted (a copy of entry {int(size) - 1})"
                )
            elif (pos + 1) in sizes[pos + 1 :]:
                report.problems.append(
                    f"{where}: reordered (signed as entry {int(size) - 1})"
                )
            elif int(size) > pos + 1:
                report.problems.append(
                    f"{where}: deleted (entry {pos} is missing; the next entry was "
                    f"signed as entry {int(size) - 1})"
                )
            else:
                report.problems.append(
                    f"{where}: inserted (signed as entry "
                    f"{int(size) - 1}, which is already held)"
                )
            break
        if tree.peaks_root(peaks) != bytes(root):
            report.problems.append(
                f"{where}: edited (its leaf no longer gives the "
                "root of its signed head)"
            )
            break
        fields = json.loads(leaf)
        if (
            fields.get("kind"),
            fields.get("release_id"),
            fields.get("agreement_id"),
            fields.get("row_count"),
        ) != (kind, rid, aid, nrows):
            report.problems.append(
                f"{where}: edited (its columns disagree with its leaf)"
            )
            break
        problem = _pupils_problem(store, pos, fields, commitments)
        if problem:
            report.problems.append(f"{where}: edited ({problem})")
            break
    report.tree_size = len(rows)
    report.root_hash = merkle.root(
        hashes + [merkle.leaf_hash(bytes(r[1])) for r in rows[len(hashes) :]]
    ).hex()
    if report.ok:
        report.problems += _tree_problems(store, hashes)
    head = log.read_head(home)
    if report.ok and head is not None:
        if not head.valid():
            report.problems.append(
                "HOME/ledger/head.json: its signature does not verify"
            )
        elif head.tree_size > len(rows):
            report.problems.append(
                f"entry {len(rows)}: deleted (the last published head has "
                f"{head.tree_size} entries, the ledger {len(rows)})"
            )
        elif merkle.root(hashes[: head.tree_size]) != head.root_hash:
            report.problems.append("the ledger does not extend its last published head")
    report.problems += _store_agrees(store, home)
    return report


def _tree_problems(store: Store, hashes: list[bytes]) -> list[str]:
    """The hashes kept for proofs (each entry's ``leaf_hash``, the perfect subtrees
    in ``ledger_nodes``) against the tree recomputed from the leaves: an edited one
    would make proofs and the next signed head wrong."""
    for i, h in store.rows(
        "SELECT entry_index, leaf_hash FROM ledger_entries ORDER BY entry_index"
    ):
        if bytes(h) != hashes[int(i)]:
            return [f"entry {int(i)}: edited (its leaf_hash is not its leaf's hash)"]
    if not store.exists("ledger_nodes"):
        return []  # made before the tree was kept: the next append builds it
    want = {(lv, ix): h for lv, ix, _, h in tree.all_nodes(hashes)}
    held: dict[tuple[int, int], bytes] = {}
    for lv, ix, h in store.rows(
        "SELECT level, node_index, hash FROM ledger_nodes ORDER BY last_leaf, level"
    ):
        node = (int(lv), int(ix))
        if node in held or want.get(node) != bytes(h):
            return [
                f"ledger_nodes: level {node[0]} node {node[1]} disagrees with the "
                "leaves (proofs would not verify)"
            ]
        held[node] = bytes(h)
    if held and len(held) != len(want):
        return [
            f"ledger_nodes: {len(want) - len(held)} of the tree's {len(want)} nodes "
            "are missing"
        ]
    return []


# Entries with at most this many pupils (look-ups, subject access answers, small
# releases) have their commitments made in one statement; larger ones one by one,
# so no single aggregate holds a national release's digests beside the others.
SMALL_ENTRY = 10_000
EMPTY = hashlib.sha256().hexdigest()


def _small_commitments(store: Store) -> tuple[dict[int, tuple[int, str]], set[int]]:
    """(count, SHA-256 of the sorted digests) of every entry with few pupils, in SQL:
    the same commitment as ``log.pupils_commitment``, without a query per entry;
    and the entries with more, whose commitments are made one by one."""
    counts = store.rows(
        "SELECT entry_index, count(*) > ? FROM ledger_pupils GROUP BY 1", [SMALL_ENTRY]
    )
    small = {
        int(i): (int(n), str(h).lower())
        for i, n, h in store.rows(
            "SELECT entry_index, count(*), sha256(unhex(string_agg(hex(pupil_digest), "
            "'' ORDER BY pupil_digest))) FROM ledger_pupils WHERE entry_index IN ("
            "SELECT entry_index FROM ledger_pupils GROUP BY 1 HAVING count(*) <= ?) "
            "GROUP BY 1",
            [SMALL_ENTRY],
        )
    }
    return small, {int(i) for i, big in counts if big}


def _pupils_problem(
    store: Store,
    index: int,
    fields: dict[str, Any],
    commitments: tuple[dict[int, tuple[int, str]], set[int]],
) -> str:
    want = fields.get("pupils")
    small, big = commitments
    if want is None:
        if index in small or index in big:
            return "pupils are recorded for an entry that disclosed nobody's records"
        return ""
    if index in big:
        got = log.pupils_commitment(
            store,
            f"SELECT pupil_digest FROM ledger_pupils WHERE entry_index = {int(index)}",
        )
    else:  # an entry with no rows in ledger_pupils has none
        got = small.get(index, (0, EMPTY))
    if (got[0], got[1]) != (want["count"], want["sha256"]):
        return "its pupils no longer match the digest in its leaf"
    return ""


def _store_agrees(store: Store, home: Home) -> list[str]:
    """Every release record has one ledger entry saying the same, and no entry
    claims a release the store does not hold."""
    if not store.exists("releases"):
        recorded = store.rows(
            "SELECT entry_index, release_id FROM ledger_entries "
            "WHERE kind = 'release' ORDER BY 1"
        )
        return [
            f"entry {i}: release {r} is not in the store's records" for i, r in recorded
        ]
    out = []
    for (rid,) in store.rows(
        "SELECT r.release_id FROM releases r "
        "ANTI JOIN ledger_entries e ON e.release_id = r.release_id "
        "ORDER BY r.created_at"
    ):
        out.append(f"release {rid}: in the store's records but not in the ledger")
    entries = store.rows(
        "SELECT entry_index, release_id, leaf FROM ledger_entries "
        "WHERE kind = 'release' ORDER BY entry_index"
    )
    records = {
        r[0]: r[1:]
        for r in store.rows(
            "SELECT release_id, agreement_id, row_count, level FROM releases"
        )
    }
    files = {}
    for rid, name, sha in store.rows(
        "SELECT release_id, file_name, sha256 FROM release_files"
    ):
        files.setdefault(rid, {})[name] = sha
    aliases = log.aliases_sql(store) if store.exists("pupils") else None
    dsql = keys.digest_sql(keys.digest_key(home), "a.alias_key")
    for index, rid, leaf in entries:
        f = json.loads(bytes(leaf))
        if rid not in records:
            out.append(f"entry {index}: release {rid} is not in the store's records")
            continue
        if (f["agreement_id"], f["row_count"], f["level"]) != records[rid]:
            out.append(
                f"entry {index}: release {rid}'s record disagrees with the "
                "ledger (agreement, rows or level)"
            )
        if files.get(rid, {}) != f.get("files", {}):
            out.append(
                f"entry {index}: release {rid}'s file hashes disagree with the ledger"
            )
        if aliases and store.exists("release_pupils"):
            # the store's pupils of the release, as digests of every key they have
            # had, against the ledger's digests: each side must cover the other
            extra, missing = store.rows(
                f"""
                WITH mine AS (SELECT DISTINCT pupil_key FROM release_pupils
                              WHERE release_id = ?),
                     dig AS (SELECT a.pupil_key, {dsql} AS d FROM ({aliases}) a
                             SEMI JOIN mine m ON m.pupil_key = a.pupil_key),
                     led AS (SELECT pupil_digest AS d FROM ledger_pupils
                             WHERE entry_index = ?)
                SELECT (SELECT count(*) FROM mine m WHERE NOT EXISTS (
                            SELECT 1 FROM dig JOIN led USING (d)
                            WHERE dig.pupil_key = m.pupil_key)),
                       (SELECT count(*) FROM led WHERE d NOT IN (SELECT d FROM dig))
            """,
                [rid, index],
            )[0]
            if extra or missing:
                out.append(
                    f"entry {index}: release {rid}'s pupils disagree with the "
                    f"ledger ({extra} recorded only in the store, {missing} "
                    "only in the ledger)"
                )
    return out


def export(home: Home, out: Path) -> int:
    """One JSON line per entry: index, leaf (hex of the exact bytes hashed), fields."""
    with Store.open(home) as store:
        n = log.size(store)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as f:
            for i in range(n):
                e = log.entry(store, i)
                e.pop("leaf_hash")
                f.write(json.dumps(e, sort_keys=True, default=str) + "\n")
    return n


def releases(home: Home) -> list[dict[str, Any]]:
    """Releases as the ledger records them (for the register); none while the store
    is absent or busy."""
    if not home.store_path.exists():
        return []
    try:
        con = duckdb.connect(str(home.store_path), read_only=True)
    except duckdb.Error:
        return []
    try:
        if not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE "
            "table_name = 'ledger_entries'"
        ).fetchone()[0]:
            return []
        rows = con.execute(
            "SELECT release_id, agreement_id, created_at, row_count FROM "
            "ledger_entries WHERE kind = 'release' ORDER BY entry_index"
        ).fetchall()
    finally:
        con.close()
    need = ("release_id", "agreement_id", "created_at", "row_count")
    return [dict(zip(need, r, strict=True)) for r in rows]
