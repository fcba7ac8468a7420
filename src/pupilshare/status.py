"""What the data home holds, as one JSON-able report.

Each area's section is one line in ``SECTIONS`` (a name and the area's function of
the store and home), in the order ``status`` shows them: a later area adds a line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pupilshare import catalogue, collect, governance, ledger, match, release, synth
from pupilshare.config import Home
from pupilshare.store import Store

# name -> function(store, home) giving that section, in the order shown.
SECTIONS: dict[str, Callable[[Store, Home], Any]] = {
    "collection": collect.collection_status,
    "governance": governance.status_section,
    "match": match.match_status,
    "releases": release.release_status,
    "ledger": ledger.ledger_status,
    "nation": synth.nation_status,
}


def _datasets(store: Store) -> dict[str, Any]:
    out: dict[str, Any] = {}
    has_collections = store.exists("collections")
    has_rejections = store.exists("rejections")
    for ds in catalogue.DATASETS.values():
        if ds.name == "pupil":
            continue
        collections = []
        if has_collections:
            collections = [
                {
                    "collection_id": cid,
                    "file": f,
                    "sha256": sha,
                    "rows": n,
                    "warnings": w,
                    "received_at": str(t),
                }
                for cid, f, sha, n, w, t in store.rows(
                    "SELECT collection_id, file_name, sha256, row_count, "
                    "warning_count, received_at FROM collections WHERE dataset = ? "
                    "ORDER BY collection_id",
                    [ds.name],
                )
            ]
        rejected = 0
        if has_rejections:
            rejected = store.one(
                "SELECT count(*) FROM rejections WHERE dataset = ?", [ds.name]
            )
        out[ds.name] = {
            "collections": collections,
            "rows": sum(c["rows"] for c in collections),
            "rejected": rejected,
        }
    return out


def store_status(home: Home) -> dict[str, Any]:
    report: dict[str, Any] = {"home": str(home.root), "datasets": {}}
    if not home.store_path.exists():
        report["datasets"] = {
            d: {"collections": [], "rows": 0, "rejected": 0}
            for d in catalogue.DATASETS
            if d != "pupil"
        }
        return report
    with Store(home.store_path, read_only=True) as store:
        report["datasets"] = _datasets(store)
        for name, section in SECTIONS.items():
            report[name] = section(store, home)
    return report
