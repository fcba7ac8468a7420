"""Delivery: a release is staged beside its target, moved into place with one
rename, and recorded as delivered only in the transaction that saw it in place.

Why beside the target: a rename is atomic only within one file system, and a copy
across file systems can be killed half way. Staging in the target's own folder
(``.staging-PID-RELEASE``) makes the last step a rename wherever the target is (a
mounted share, a tmpfs), so a recipient's folder is either absent or complete.

Why a pending row: the store and the file system cannot commit together. Before
any file is written the release is noted in ``release_pending`` (committed); the
record (``releases``, ``release_files``, ``release_pupils``) and the removal of the
note are one transaction, and the rename happens inside it, just before the commit.
So a kill at any moment leaves either a recorded, complete delivery, or a pending
note whose leftovers the next release cleans up: its staging folder, and a target
folder that was renamed into place but never recorded (it is removed, because
every disclosure must be recorded).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from pupilshare.config import Home
from pupilshare.errors import Conflict
from pupilshare.store import Store

STAGING_PREFIX = ".staging-"
MANIFEST = "manifest.json"
PENDING_DDL = (
    "CREATE TABLE IF NOT EXISTS release_pending (release_id VARCHAR PRIMARY KEY, "
    "out_dir VARCHAR NOT NULL, staging VARCHAR NOT NULL, manifest_sha256 VARCHAR, "
    "started_at TIMESTAMP NOT NULL)"
)


def prepare(store: Store, home: Home, release_id: str, out_dir: Path) -> Path:
    """Clean up earlier crashed deliveries, refuse a target that holds anything,
    and make this release's staging folder beside the target."""
    out_dir = Path(out_dir).resolve()
    recover(store, home)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Conflict(
            f"{out_dir} already exists and is not empty: a release never "
            "overwrites; choose a new or empty folder"
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f"{STAGING_PREFIX}{os.getpid()}-{release_id}"
    store.rows(
        "INSERT INTO release_pending VALUES (?, ?, ?, NULL, ?)",
        [
            release_id,
            str(out_dir),
            str(staging),
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    staging.mkdir(mode=0o700)
    return staging


SOURCES_DDL = (
    "CREATE TABLE IF NOT EXISTS release_sources (release_id VARCHAR NOT NULL, "
    "dataset VARCHAR NOT NULL, collection_id INTEGER NOT NULL)"
)


def record_sources(store: Store, release_id: str, items: list[str]) -> None:
    """Inside the record's transaction: the collections (return versions) that were
    current in the datasets the release read, so what it delivered stays traceable
    after a corrected return or a withdrawal replaces them."""
    if not store.exists("returns"):
        return
    store.rows(SOURCES_DDL)
    datasets = sorted({i.split(".")[0] for i in items})
    store.rows(
        "INSERT INTO release_sources SELECT DISTINCT ?, dataset, collection_id "
        "FROM returns WHERE status = 'current' AND dataset IN (SELECT unnest(?))",
        [release_id, datasets],
    )


def ready(store: Store, release_id: str, manifest_sha: str) -> None:
    """Note the manifest's hash: it tells a delivered-but-unrecorded folder apart
    from anything else at the target."""
    store.rows(
        "UPDATE release_pending SET manifest_sha256 = ? WHERE release_id = ?",
        [manifest_sha, release_id],
    )


def move_into_place(
    store: Store, release_id: str, staging: Path, out_dir: Path
) -> None:
    """Inside the record's transaction: flush the files, rename the staging folder
    onto the target (same file system), and drop the pending note."""
    for path in staging.iterdir():
        _fsync(path)
    _fsync(staging)
    if out_dir.exists():
        out_dir.rmdir()  # empty, checked by ``prepare``
    os.rename(staging, out_dir)
    _fsync(out_dir.parent)
    store.rows("DELETE FROM release_pending WHERE release_id = ?", [release_id])


def recover(store: Store, home: Home, only: str | None = None) -> list[str]:
    """Remove what crashed or failed deliveries left; returns what was removed.

    A staging folder goes; a target whose manifest is this release's but which
    was never recorded goes too; the pending note goes last. Staging folders of
    dead processes under the home's releases folder (the older layout) also go.
    """
    store.rows(PENDING_DDL)
    removed: list[str] = []
    sql = "SELECT release_id, out_dir, staging, manifest_sha256 FROM release_pending"
    rows = store.rows(
        sql + (" WHERE release_id = ?" if only else ""), [only] if only else None
    )
    recorded = _recorded(store, [r[0] for r in rows])
    mine = f"{STAGING_PREFIX}{os.getpid()}-"
    for rid, out, staging, sha in rows:
        if only is None and Path(staging).name.startswith(mine):
            continue  # a delivery of this very process, still under way
        if Path(staging).exists():
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
        target = Path(out)
        if rid not in recorded and sha and _manifest_sha(target) == sha:
            shutil.rmtree(target, ignore_errors=True)
            removed.append(out)
        store.rows("DELETE FROM release_pending WHERE release_id = ?", [rid])
    if only is None:
        home.releases_dir.mkdir(parents=True, exist_ok=True)
        for old in home.releases_dir.glob(f"{STAGING_PREFIX}*"):
            pid = old.name[len(STAGING_PREFIX) :].split("-")[0]
            if not pid.isdigit() or not _alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
                removed.append(str(old))
    return removed


def _recorded(store: Store, ids: list[str]) -> set[str]:
    if not ids or not store.exists("releases"):
        return set()
    rows = store.rows(
        "SELECT release_id FROM releases WHERE release_id IN (SELECT unnest(?))", [ids]
    )
    return {r[0] for r in rows}


def _manifest_sha(target: Path) -> str | None:
    import hashlib

    manifest = target / MANIFEST
    try:
        return hashlib.sha256(manifest.read_bytes()).hexdigest()
    except OSError:
        return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
