"""Releases' section of ``pupilshare status``."""

from __future__ import annotations

from typing import Any

from pupilshare.config import Home
from pupilshare.store import Store


def release_status(store: Store, home: Home) -> dict[str, Any]:
    """Releases delivered, by level, and the latest (for ``status --json``)."""
    if not store.exists("releases"):
        return {"delivered": 0, "by_level": {}, "latest": None}
    by_level = dict(store.rows("SELECT level, count(*) FROM releases GROUP BY 1"))
    latest = store.rows(
        "SELECT release_id, agreement_id, created_at, row_count FROM releases "
        "ORDER BY created_at DESC, release_id DESC LIMIT 1"
    )
    keys = ("release_id", "agreement_id", "created_at", "row_count")
    return {
        "delivered": sum(by_level.values()),
        "by_level": by_level,
        "latest": dict(zip(keys, latest[0], strict=True)) if latest else None,
    }
