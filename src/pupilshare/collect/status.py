"""The ``collection`` section of ``pupilshare status --json``: what was turned away.

``status`` already lists each dataset's collections; this adds what a data operations
team acts on next: every rejected file with its error count and report, and the
warnings recorded on loaded files, per dataset, and how many returns are current,
replaced by a corrected version or withdrawn (with the reasons).
"""

from __future__ import annotations

from typing import Any

from pupilshare.config import Home
from pupilshare.store import Store


def collection_status(store: Store, home: Home) -> dict[str, Any]:
    out: dict[str, Any] = {"rejections": [], "warnings": {}}
    if store.exists("rejections"):
        out["rejections"] = [
            {"dataset": d, "file": f, "errors": n, "report": r, "received_at": str(t)}
            for d, f, n, r, t in store.rows(
                "SELECT dataset, file_name, error_count, report_path, received_at "
                "FROM rejections ORDER BY rejection_id"
            )
        ]
    if store.exists("collection_issues") and store.exists("collections"):
        out["warnings"] = dict(
            store.rows(
                "SELECT c.dataset, count(*) FROM collection_issues i "
                "JOIN collections c USING (collection_id) GROUP BY 1 ORDER BY 1"
            )
        )
    if store.exists("returns"):  # corrected and withdrawn returns, per dataset
        out["returns"] = {}
        for ds, status, n, rows in store.rows(
            "SELECT dataset, status, count(*), sum(rows) FROM returns "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ):
            counts = {"returns": n, "rows": int(rows)}
            out["returns"].setdefault(ds, {})[status] = counts
        out["withdrawn"] = [
            {"collection_id": c, "dataset": d, "reason": r, "at": str(t)}
            for c, d, r, t in store.rows(
                "SELECT DISTINCT collection_id, dataset, reason, changed_at FROM "
                "returns WHERE status = 'withdrawn' ORDER BY collection_id"
            )
        ]
    return out
