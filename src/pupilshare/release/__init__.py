"""Releases at the least identifying level: every agreement's data goes out through
``release_agreement`` (governance's approved plan and decision, then minimise,
population, de-identify, disclosure control, output check, package and deliver).

These names are the area's public surface: the faces (the command line in
``commands/``) and the other areas import nothing else from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pupilshare.config import Home
from pupilshare.release.status import release_status
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.plan import ReleasePlan
    from pupilshare.release.package import Manifest

__all__ = ["build_release", "published", "release_agreement", "release_status"]

# The engine is imported on first use, in each function below: it loads SciPy
# (about 0.7 s), which every other command would otherwise pay at start-up.


def release_agreement(
    home: Home,
    agreement_id: str,
    out: Path,
    user: str | None = None,
    formats: tuple[str, ...] = ("parquet", "csv"),
) -> Manifest:
    """Governance's approved plan and decision (one call), then build and deliver
    one release; refused when governance cannot answer."""
    from pupilshare.release import runner

    return runner.release_agreement(home, agreement_id, out, user, formats)


def published() -> Any:
    """Delivered releases as recipients and the public see them (records, files,
    manifests, published statistics): ``pupilshare.release.public``."""
    from pupilshare.release import public

    return public


def build_release(
    store: Store,
    home: Home,
    plan: ReleasePlan,
    out: str | Path,
    formats: tuple[str, ...] = ("parquet", "csv"),
) -> Manifest:
    """Build, check and deliver one release of an approved plan."""
    from pupilshare.release import build

    return build.build_release(store, home, plan, out, formats)
