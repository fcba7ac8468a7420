"""Packaging and delivery: files written to a staging directory beside the target,
moved into place only when complete, and recorded in the store.

The record (``releases``, ``release_files``, ``release_pupils``) is written in the
transaction that renames the staging folder into place (``delivery``): a kill at any
point leaves a complete, recorded delivery or nothing, and the next release removes
what a crashed one left.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from pupilshare import csvsafe
from pupilshare.config import Home
from pupilshare.ledger.record import record_release
from pupilshare.release import delivery
from pupilshare.release.derive import lit
from pupilshare.store import Store

MANIFEST = "manifest.json"
README = "README.txt"
PAUSE_ENV = "PUPILSHARE_RELEASE_PAUSE"  # crash drills: seconds to wait after each file
MOVED_PAUSE_ENV = "PUPILSHARE_RELEASE_PAUSE_MOVED"  # ... and once in place, uncommitted

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
    access_route: str = ""  # the agreement's (``plan.PUBLICATION``: published)

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


def _pause(env: str = PAUSE_ENV) -> None:
    seconds = float(os.environ.get(env) or 0)
    if seconds:
        time.sleep(seconds)


def write_sql(
    store: Store, staging: Path, name: str, sql: str, formats: tuple[str, ...]
) -> list[str]:
    """COPY a query to Parquet (and CSV from that Parquet); returns the file names."""
    parquet = staging / f"{name}.parquet"
    store.rows(f"COPY ({sql}) TO {lit(str(parquet))} (FORMAT parquet)")
    _pause()
    names = [parquet.name]
    if "csv" in formats:
        csv = staging / f"{name}.csv"
        source = f"SELECT * FROM read_parquet({lit(str(parquet))})"
        columns = [(r[0], r[1]) for r in store.rows(f"DESCRIBE {source}")]
        store.rows(csvsafe.copy_sql(columns, source, csv))  # formula-safe CSV
        _pause()
        names.append(csv.name)
    return names


def write_arrow(
    store: Store, staging: Path, name: str, table: pa.Table, formats: tuple[str, ...]
) -> list[str]:
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
        if name.endswith(".parquet"):
            rows = store.one(f"SELECT count(*) FROM read_parquet({lit(str(path))})")
        elif name.endswith(".csv"):  # its dialect stated, never sniffed
            read = csvsafe.read_sql(path, csvsafe.header(path))
            rows = store.one(f"SELECT count(*) FROM {read}")
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


def deliver(
    store: Store,
    staging: Path,
    out_dir: Path,
    manifest: Manifest,
    manifest_sha: str,
    pupils: pa.Table,
    home: Home,
    ledger_facts: dict | None = None,
) -> Path:
    """Record the release, append its ledger entry and move its staging folder
    (beside the target) into place, all in one transaction: recorded only when
    complete and in place (``delivery``); a failed move rolls back the ledger too."""
    out_dir = Path(out_dir).resolve()
    ensure_record_tables(store)
    rid = manifest.release_id
    delivery.ready(store, rid, manifest_sha)
    with store.transaction():
        store.rows(
            "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                rid,
                manifest.agreement_id,
                manifest.created_at,
                manifest.level,
                str(out_dir),
                manifest.row_count,
                manifest_sha,
            ],
        )
        for f in manifest.files:
            store.rows(
                "INSERT INTO release_files VALUES (?, ?, ?, ?, ?)",
                [rid, f.name, f.sha256, f.bytes, f.rows],
            )
        store.rows(
            "INSERT INTO release_files VALUES (?, ?, ?, ?, ?)",
            [rid, MANIFEST, manifest_sha, (staging / MANIFEST).stat().st_size, 0],
        )
        store.register("_release_pupils", pupils)
        store.rows(
            f"INSERT INTO release_pupils SELECT DISTINCT {lit(rid)}, pupil_key "
            "FROM _release_pupils"
        )
        record_release(
            store, home, manifest, manifest_sha, "_release_pupils", ledger_facts
        )
        store.unregister("_release_pupils")
        delivery.record_sources(store, rid, manifest.items)
        delivery.move_into_place(store, rid, staging, out_dir)
        _pause(MOVED_PAUSE_ENV)
    return out_dir
