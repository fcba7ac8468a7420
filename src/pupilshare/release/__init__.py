"""Releases at the least identifying level: every agreement's data goes out through
``build_release`` (minimise, population, de-identify, disclosure control, output
check, package and deliver). Importing this package is light: the engine loads on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pupilshare import status as _status

if TYPE_CHECKING:
    from pupilshare.config import Home
    from pupilshare.store import Store

__all__ = [
    "build_release", "demo_step", "published", "release_status",
]  # fmt: skip


def build_release(*args: Any, **kwargs: Any) -> Any:
    from pupilshare.release.build import build_release as _build

    return _build(*args, **kwargs)


def published() -> Any:
    """Delivered releases as recipients and the public see them (records, files,
    manifests, published statistics): ``pupilshare.release.public``."""
    from pupilshare.release import public

    return public


def demo_step(run: Any) -> str:
    from pupilshare.release.demo import demo_step as _step

    return _step(run)


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


_status.SECTIONS["releases"] = release_status
