"""What a release writes into the ledger, inside the transaction that records it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pupilshare.config import Home
from pupilshare.ledger import log
from pupilshare.store import Store

if TYPE_CHECKING:
    from pupilshare.release.package import Manifest


def release_fields(
    manifest: Manifest, manifest_sha: str, facts: dict[str, Any]
) -> dict[str, Any]:
    """The entry of one release: who got what, when, why, allowed by which policy."""
    aggregate = manifest.level == "aggregate"
    tables = sorted(
        {
            f.name.rsplit(".", 1)[0]
            for f in manifest.files
            if f.name.endswith(".parquet")
        }
    )
    return {
        "kind": "release",
        "release_id": manifest.release_id,
        "agreement_id": manifest.agreement_id,
        "agreement_version": facts.get("agreement_version"),
        "recipient": manifest.recipient,
        "gateway": manifest.gateway,
        "purpose": manifest.purpose,
        "level": manifest.level,
        "items": sorted(manifest.items),
        "row_count": manifest.row_count,
        "created_at": manifest.created_at,
        "files": {
            **{f.name: f.sha256 for f in manifest.files},
            "manifest.json": manifest_sha,
        },
        "plan_sha256": manifest.plan_sha256,
        "policy_version": facts.get("policy_version", ""),
        "opt_out_scope": facts.get("opt_out_scope"),
        "opt_out_snapshot": facts.get("opt_out_snapshot", ""),
        "opt_out_snapshot_at": facts.get("opt_out_snapshot_at"),
        "opt_outs_removed": int(facts.get("opt_outs_removed", 0)),
        "opt_out_exemption": facts.get("opt_out_exemption"),
        # record-level: the pupils in it; aggregate: the pupils whose records fed
        # these tables (ledger_pupils holds their keyed digests either way)
        "pupils_role": "fed tables" if aggregate else "in release",
        "tables": tables if aggregate else [],
    }


def record_release(
    store: Store,
    home: Home,
    manifest: Manifest,
    manifest_sha: str,
    pupils_view: str,
    facts: dict[str, Any] | None = None,
) -> int:
    """Append the release's entry; the caller's transaction holds the release
    record, so both commit or neither does."""
    fields = release_fields(manifest, manifest_sha, facts or {})
    return log.append(store, home, fields, f"SELECT pupil_key FROM {pupils_view}")


def retract_last(store: Store, release_id: str) -> None:
    """Undo the entry of a release whose delivery failed after the commit; only ever
    the newest entry, so the log stays a prefix of what was signed."""
    if not store.exists("ledger_entries"):
        return
    last = store.rows(
        "SELECT entry_index, release_id FROM ledger_entries "
        "ORDER BY entry_index DESC LIMIT 1"
    )
    if last and last[0][1] == release_id:
        store.rows("DELETE FROM ledger_pupils WHERE entry_index = ?", [last[0][0]])
        store.rows("DELETE FROM ledger_entries WHERE entry_index = ?", [last[0][0]])


def record_lookup(
    store: Store,
    home: Home,
    agreement_id: str,
    recipient: str,
    purpose: str,
    items: list[str],
    pupil_keys_sql: str,
    row_count: int,
    policy_version: str = "",
) -> int:
    """An identified record lookup (one pupil's records shown to a recipient, e.g.
    through the web service): one entry, the pupils as digests."""
    from datetime import UTC, datetime

    with store.transaction():
        return log.append(
            store,
            home,
            {
                "kind": "lookup",
                "release_id": None,
                "agreement_id": agreement_id,
                "recipient": recipient,
                "purpose": purpose,
                "level": "identified",
                "items": sorted(items),
                "row_count": int(row_count),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "policy_version": policy_version,
            },
            pupil_keys_sql,
        )
