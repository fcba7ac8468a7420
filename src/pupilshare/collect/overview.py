"""Collections as data operations follow them: every file loaded with its warnings,
every file turned away with its errors (``file:line:field:reason``, from the run's
report), newest first. Reads only; a page shows at most ``SHOWN`` problems a file."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pupilshare.store import Store

SHOWN = 20


def _report_lines(path: str | None, limit: int, file_name: str) -> list[str]:
    """The first problems of one file from a run's CSV report."""
    if not path or not Path(path).is_file():
        return []
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if Path(row.get("file", "")).name != file_name:
                continue
            out.append(f"{row['file']}:{row['line']}:{row['field']}:{row['reason']}")
            if len(out) >= limit:
                break
    return out


def overview(store: Store, limit: int = SHOWN) -> dict[str, Any]:
    """Loaded files with their first warnings, and rejected files with their first
    errors."""
    loaded: list[dict[str, Any]] = []
    if store.exists("collections"):
        rows = store.rows(
            "SELECT collection_id, dataset, file_name, row_count, warning_count, "
            "received_at FROM collections "
            "ORDER BY received_at DESC, collection_id DESC"
        )
        warnings: dict[int, list[str]] = {}
        if store.exists("collection_issues"):
            for cid, name, line, field, reason in store.rows(
                "SELECT collection_id, file_name, line, field, reason FROM ("
                "SELECT *, row_number() OVER (PARTITION BY collection_id ORDER BY line,"
                " field) AS n FROM collection_issues) WHERE n <= ? "
                "ORDER BY collection_id, line, field",
                [limit],
            ):
                warnings.setdefault(cid, []).append(f"{name}:{line}:{field}:{reason}")
        loaded = [
            {
                "collection_id": cid,
                "dataset": ds,
                "file": name,
                "rows": n,
                "warnings": w,
                "received_at": str(at),
                "first_warnings": warnings.get(cid, []),
            }
            for cid, ds, name, n, w, at in rows
        ]
    rejected: list[dict[str, Any]] = []
    if store.exists("rejections"):
        rejected = [
            {
                "dataset": ds,
                "file": name,
                "errors": n,
                "received_at": str(at),
                "first_errors": _report_lines(report, limit, name),
            }
            for ds, name, n, report, at in store.rows(
                "SELECT dataset, file_name, error_count, report_path, "
                "received_at FROM rejections "
                "ORDER BY received_at DESC, rejection_id DESC"
            )
        ]
    return {"loaded": loaded, "rejected": rejected}
