"""Packaging and delivery: files written to a staging directory, moved into place only
when complete, and recorded in the store.

A crash or kill before the move leaves only a staging directory under
``home.releases_dir`` (removed by the next release) and nothing delivered. The record
(``releases``, ``release_files``, ``release_pupils``) is committed in one transaction
just before the move, so a delivered release is always recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from pupilshare.config import Home
from pupilshare.errors import Conflict
from pupilshare.ledger.record import record_release, retract_last
from pupilshare.release.derive import lit
from pupilshare.store import Store

STAGING_PREFIX = ".staging-"
MANIFEST = "manifest.json"
README = "README.txt"
PAUSE_ENV = "PUPILSHARE_RELEASE_PAUSE"  # crash drills: seconds to wait after each file

RECORD_DDL = (
    "CREATE TABLE IF NOT EXISTS releases (release_id VARCHAR PRIMARY KEY, "
    "agreement_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, level VARCHAR, "
    "out_dir VARCHAR, row_count BIGINT, manifest_sha256 VARCHAR)",
    "CREATE TABLE IF NOT EXISTS release_files (release_id VARCHAR NOT NULL, "
    "file_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, bytes BIGINT, "
    "row_count BIGINT)",
    "CREATE TABLE IF NOT EXISTS release_pupils (release_id VARCHAR NOT NULL, "
    "pupil_key BIGINT NOT NULL)",
)


@dataclass
class FileEntry:
    name: str
    rows: int
    sha256: str
    bytes: int


@dataclass
class Manifest:
    """What a recipient receives alongside the data, and what the record points at."""

    release_id: str
    agreement_id: str
    recipient: str
    gateway: str
    purpose: str
    level: str
    items: list[str]
    plan_sha256: str
    created_at: str
    files: list[FileEntry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rules: dict = field(default_factory=dict)
    risk: dict = field(default_factory=dict)
    out_dir: str = ""

    @property
    def row_count(self) -> int:
        return sum(f.rows for f in self.files if f.name.endswith(".parquet"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=str)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def staging_dir(home: Home, release_id: str) -> Path:
    """A fresh staging directory; stale ones of dead processes are removed first."""
    home.releases_dir.mkdir(parents=True, exist_ok=True)
    for old in home.releases_dir.glob(f"{STAGING_PREFIX}*"):
        pid = old.name[len(STAGING_PREFIX) :].split("-")[0]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = home.releases_dir / f"{STAGING_PREFIX}{os.getpid()}-{release_id}"
    path.mkdir()
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pause() -> None:
    seconds = float(os.environ.get(PAUSE_ENV) or 0)
    if seconds:
        time.sleep(seconds)


def write_sql(store: Store, staging: Path, name: str, sql: str,
              formats: tuple[str, ...]) -> list[str]:  # fmt: skip
    """COPY a query to Parquet (and CSV from that Parquet); returns the file names."""
    parquet = staging / f"{name}.parquet"
    store.rows(f"COPY ({sql}) TO {lit(str(parquet))} (FORMAT parquet)")
    _pause()
    names = [parquet.name]
    if "csv" in formats:
        csv = staging / f"{name}.csv"
        store.rows(
            f"COPY (SELECT * FROM read_parquet({lit(str(parquet))})) "
            f"TO {lit(str(csv))} (HEADER, DELIMITER ',')"
        )
        _pause()
        names.append(csv.name)
    return names


def write_arrow(store: Store, staging: Path, name: str, table: pa.Table,
                formats: tuple[str, ...]) -> list[str]:  # fmt: skip
    store.register("_release_out", table)
    try:
        return write_sql(store, staging, name, "SELECT * FROM _release_out", formats)
    finally:
        store.unregister("_release_out")


def describe_files(store: Store, staging: Path, names: list[str]) -> list[FileEntry]:
    out = []
    for name in names:
        path = staging / name
        rows = 0
        if name.endswith((".parquet", ".csv")):
            reader = "read_parquet" if name.endswith(".parquet") else "read_csv"
            rows = store.one(f"SELECT count(*) FROM {reader}({lit(str(path))})")
        out.append(FileEntry(name, int(rows), sha256_file(path), path.stat().st_size))
    return out


def write_readme(staging: Path, manifest: Manifest) -> str:
    """A plain-text note for the recipient: what this is and the rules applied."""
    lines = [
        f"Release {manifest.release_id}",
        f"Agreement {manifest.agreement_id} for {manifest.recipient}",
        f"Legal gateway: {manifest.gateway}",
        f"Purpose: {manifest.purpose}",
        f"Level: {manifest.level}",
        "",
        "Rules applied:",
    ]
    for name, rule in manifest.rules.items():
        if name == "tables":
            continue
        if isinstance(rule, dict):
            lines += [f"  {name}:"] + [f"    {k}: {v}" for k, v in rule.items()]
        else:
            lines.append(f"  {name}: {rule}")
    risks = {k: v for k, v in manifest.risk.items() if isinstance(v, dict)}
    for name, risk in risks.items():
        lines += ["", f"Re-identification risk ({name}):"]
        lines += [f"  {k}: {v}" for k, v in risk.items()]
    if manifest.removed:
        lines += ["", "Items not released at this level:"]
        lines += [f"  {r}" for r in manifest.removed]
    lines += ["", "File hashes (SHA-256) are in manifest.json."]
    (staging / README).write_text("\n".join(lines) + "\n")
    return README


def write_manifest(staging: Path, manifest: Manifest) -> str:
    data = manifest.to_json().encode()
    (staging / MANIFEST).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def ensure_record_tables(store: Store) -> None:
    for ddl in RECORD_DDL:
        store.rows(ddl)


def deliver(store: Store, staging: Path, out_dir: Path, manifest: Manifest,
            manifest_sha: str, pupils: pa.Table, home: Home,
            ledger_facts: dict | None = None) -> Path:  # fmt: skip
    """Record the release and append its ledger entry (one transaction), then move
    the staging directory into place."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Conflict(f"{out_dir} already exists and is not empty")
    ensure_record_tables(store)
    rid = manifest.release_id
    with store.transaction():
        store.rows(
            "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?)",
            [rid, manifest.agreement_id, manifest.created_at, manifest.level,
             str(out_dir), manifest.row_count, manifest_sha],
        )  # fmt: skip
        for f in manifest.files:
            store.rows("INSERT INTO release_files VALUES (?, ?, ?, ?, ?)",
                          [rid, f.name, f.sha256, f.bytes, f.rows])  # fmt: skip
        store.rows("INSERT INTO release_files VALUES (?, ?, ?, ?, ?)",
                      [rid, MANIFEST, manifest_sha,
                       (staging / MANIFEST).stat().st_size, 0])  # fmt: skip
        store.register("_release_pupils", pupils)
        store.rows(
            f"INSERT INTO release_pupils SELECT DISTINCT {lit(rid)}, pupil_key "
            "FROM _release_pupils"
        )
        record_release(store, home, manifest, manifest_sha, "_release_pupils",
                       ledger_facts)  # fmt: skip
        store.unregister("_release_pupils")
    try:
        _move(staging, out_dir)
    except BaseException:
        with store.transaction():
            retract_last(store, rid)
            for table in ("release_pupils", "release_files", "releases"):
                store.rows(f"DELETE FROM {table} WHERE release_id = ?", [rid])
        raise
    return out_dir


def _move(staging: Path, out_dir: Path) -> None:
    """Atomic rename; across file systems, copy beside the target and rename there."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.exists():
        out_dir.rmdir()
    try:
        os.rename(staging, out_dir)
        return
    except OSError:
        pass
    beside = out_dir.parent / f"{STAGING_PREFIX}{os.getpid()}-{out_dir.name}"
    shutil.copytree(staging, beside)
    os.rename(beside, out_dir)
    shutil.rmtree(staging, ignore_errors=True)
