"""The ``collection`` section of ``pupilshare status --json``: what was turned away.

``status`` already lists each dataset's collections; this adds what a data operations
team acts on next: every rejected file with its error count and report, and the
warnings recorded on loaded files, per dataset.
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
    return out
