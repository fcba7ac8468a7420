"""Matching's section of ``pupilshare status``."""

from __future__ import annotations

from typing import Any

from pupilshare.config import Home
from pupilshare.store import Store


def match_status(store: Store, home: Home) -> dict[str, Any]:
    """The index in numbers, for ``status --json``."""
    if not store.exists("pupils"):
        return {"pupils": 0}
    out: dict[str, Any] = {
        "pupils": store.rows("SELECT count(*) FROM pupils")[0][0],
        "links": store.rows("SELECT count(*) FROM pupil_links")[0][0],
    }
    if store.exists("match_review"):
        out["review_pending"] = store.rows(
            "SELECT count(*) FROM match_review WHERE status = 'pending'"
        )[0][0]
    if store.exists("match_unusable"):
        out["unusable"] = store.rows("SELECT count(*) FROM match_unusable")[0][0]
    if store.exists("uln_issued"):
        out["ulns_issued"] = store.rows("SELECT count(*) FROM uln_issued")[0][0]
    if store.exists("match_runs"):
        out["runs"] = store.rows("SELECT count(*) FROM match_runs")[0][0]
    return out
