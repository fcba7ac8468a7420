"""Releases as their recipients and the public see them: the record of each
delivered release with its files, the one file a recipient may fetch, and the
statistics the department has published.

Published statistics are aggregate releases made for the public: the department's
own official statistics, under an agreement whose access route is publication
(``plan.PUBLICATION``, listed in the register) and whose recipient is the public or
the department itself, by its exact id; nothing else is ever read for the public
pages (an aggregate share sent to anyone by another route stays theirs). Their
tables are read back from the delivered Parquet files, exactly as released
(suppressed cells stay empty).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pupilshare.errors import Conflict, NotFound
from pupilshare.plan import PUBLICATION, TableSpec
from pupilshare.release import trends
from pupilshare.release.package import MANIFEST
from pupilshare.store import Store

PUBLIC_RECIPIENTS = ("public", "department")
RELEASE_COLUMNS = (
    "release_id",
    "agreement_id",
    "created_at",
    "level",
    "out_dir",
    "row_count",
    "manifest_sha256",
)


def releases(store: Store, agreement_ids: list[str] | None = None) -> list[dict]:
    """Delivered releases (of these agreements), newest first, with their files."""
    if not store.exists("releases"):
        return []
    sql = f"SELECT {', '.join(RELEASE_COLUMNS)} FROM releases"
    params: list[Any] = []
    if agreement_ids is not None:
        if not agreement_ids:
            return []
        sql += f" WHERE agreement_id IN ({', '.join('?' for _ in agreement_ids)})"
        params = list(agreement_ids)
    rows = store.rows(sql + " ORDER BY created_at DESC, release_id", params)
    out = [dict(zip(RELEASE_COLUMNS, r, strict=True)) for r in rows]
    files: dict[str, list[dict]] = {}
    if out and store.exists("release_files"):
        ids = [r["release_id"] for r in out]
        for rid, name, sha, size, n in store.rows(
            "SELECT release_id, file_name, sha256, bytes, row_count FROM release_files "
            f"WHERE release_id IN ({', '.join('?' for _ in ids)}) "
            "ORDER BY release_id, file_name",
            ids,
        ):
            files.setdefault(rid, []).append(
                {"name": name, "sha256": sha, "bytes": size, "rows": n}
            )
    for r in out:
        r["created_at"] = str(r["created_at"])
        r["files"] = files.get(r["release_id"], [])
    return out


def release(store: Store, release_id: str) -> dict:
    """One delivered release by id (``NotFound`` when there is none)."""
    found = [r for r in releases(store) if r["release_id"] == release_id]
    if not found:
        raise NotFound(f"no release {release_id!r}")
    return found[0]


def release_file(record: dict, name: str) -> Path:
    """The path of a file the release record lists; never any other path, and
    only while it is the file the output check passed: its SHA-256 the one
    recorded at delivery (a file changed in the folder since is refused)."""
    listed = {f["name"]: f for f in record["files"]}
    if name not in listed:
        raise NotFound(f"release {record['release_id']} has no file {name!r}")
    path = Path(record["out_dir"]) / name
    if not path.is_file():
        raise NotFound(f"release {record['release_id']}: {name} is no longer held")
    if _sha256(path) != listed[name]["sha256"]:
        raise Conflict(
            f"release {record['release_id']}: {name} has changed since delivery "
            "and is not served"
        )
    return path


def manifest(record: dict) -> dict:
    """The delivered manifest, or ``{}`` when it is missing, unreadable or not the
    one recorded at delivery (its SHA-256): a changed manifest is no manifest, so
    nothing is published or decided on it."""
    path = Path(record["out_dir"]) / MANIFEST
    try:
        if _sha256(path) != record.get("manifest_sha256"):
            return {}
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_published(man: dict) -> bool:
    """Aggregate, made for the public by the publication route: the only releases
    public pages read."""
    return (
        man.get("level") == "aggregate"
        and man.get("access_route") == PUBLICATION
        and man.get("recipient") in PUBLIC_RECIPIENTS
    )


def _table(path: Path, name: str) -> dict[str, Any]:
    table = pq.read_table(path)
    cols = table.column_names
    out: dict[str, Any] = {
        "name": name,
        "columns": cols,
        "rows": [list(r.values()) for r in table.to_pylist()],
        "trend": [],
    }
    if trends.YEAR in cols and trends.EXPECTED in cols and "value" in cols:
        dims = tuple(c for c in cols if c not in (trends.EXPECTED, "value", "symbol"))
        if dims[:1] == (trends.YEAR,) and len(dims) <= 2:
            spec = TableSpec(name, "ks_results", dims, (trends.EXPECTED,))
            out["trend"] = trends.percentages(spec, table)
    return out


def statistics(store: Store) -> list[dict[str, Any]]:
    """Every published release with its tables (and trend percentages)."""
    out = []
    for rec in releases(store):
        man = manifest(rec)
        if not is_published(man):
            continue
        tables = [
            _table(Path(rec["out_dir"]) / f["name"], f["name"][:-8])
            for f in rec["files"]
            if f["name"].endswith(".parquet")
            and (Path(rec["out_dir"]) / f["name"]).is_file()
        ]
        tables.sort(key=lambda t: ("national" not in t["name"], t["name"]))
        out.append(
            {
                "release_id": rec["release_id"],
                "title": man.get("purpose", ""),
                "created_at": rec["created_at"],
                "tables": tables,
                "rules": {
                    k: v for k, v in (man.get("rules") or {}).items() if k != "tables"
                },
            }
        )
    return out
