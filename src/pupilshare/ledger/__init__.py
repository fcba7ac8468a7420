"""The disclosure ledger: every release, identified lookup, survey sample and subject
access answer appended to an RFC 6962 Merkle tree in the store, with signed
checkpoints, proofs and a verifier. The register, subject access answers and the
opt-out check read who got what from here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pupilshare.config import Home
    from pupilshare.store import Store

__all__ = [
    "append_many",
    "prepare_appends",
    "checkpoint",
    "digest",
    "digests",
    "entries_for",
    "export",
    "ledger_status",
    "prove",
    "present",
    "publish_head",
    "record_lookup",
    "releases_by_agreement",
    "verify",
]


def publish_head(store: Store, home: Home) -> dict[str, Any]:
    """Sign the current head and write it to ``HOME/ledger/head.json``."""
    from pupilshare.ledger import log

    cp = log.checkpoint(store, home)
    log.write_head(home, cp)
    return cp.as_json()


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
    """Append an identified lookup (inside the caller's transaction, if any)."""
    from pupilshare.ledger.record import record_lookup as _record

    return _record(
        store,
        home,
        agreement_id,
        recipient,
        purpose,
        items,
        pupil_keys_sql,
        row_count,
        policy_version,
    )


def checkpoint(home: Home) -> dict[str, Any]:
    from pupilshare.store import Store

    with Store.open(home) as store:
        return publish_head(store, home)


def prove(home: Home, index: int, from_size: int | None = None) -> dict[str, Any]:
    from pupilshare.ledger import log
    from pupilshare.store import Store

    with Store.open(home) as store:
        return log.prove(store, home, index, from_size)


def export(home: Home, out: Any) -> int:
    from pupilshare.ledger.check import export as _export

    return _export(home, out)


def verify(home: Home) -> Any:
    from pupilshare.ledger.check import verify as _verify

    return _verify(home)


def releases_by_agreement(home: Home) -> list[dict[str, Any]]:
    from pupilshare.ledger.check import releases as _releases

    return _releases(home)


def ledger_status(store: Store, home: Home) -> dict[str, Any]:
    """Entries by kind and the last published head (for ``status --json``)."""
    from pupilshare.ledger import log

    kinds = (
        dict(store.rows("SELECT kind, count(*) FROM ledger_entries GROUP BY 1"))
        if store.exists("ledger_entries")
        else {}
    )
    head = log.read_head(home)
    return {
        "entries": sum(kinds.values()),
        "by_kind": kinds,
        "head": head.as_json() if head else None,
    }


def append_many(
    store: Store, home: Home, entries: list[tuple[dict[str, Any], list[bytes]]]
) -> list[int]:
    """Append many entries in one transaction (``ledger/batch.py``)."""
    from pupilshare.ledger.batch import append_many as _append

    return _append(store, home, entries)


def prepare_appends() -> None:
    """Import what ``append_many`` needs (the batch writer, and the pandas bridge
    Arrow loads on its first array) now: a long-running service calls this before
    it listens, so its first append does not hold the interpreter for a second of
    imports while requests wait."""
    from pupilshare.ledger.batch import _columns

    _columns([])


def digest(home: Home, value: str | int) -> bytes:
    """The keyed digest the ledger keeps of a person's key."""
    from pupilshare.ledger.batch import digest as _digest

    return _digest(home, value)


def digests(home: Home, values: list[str]) -> list[bytes]:
    """``digest`` of many keys, the home's key read once."""
    from pupilshare.ledger.batch import digests as _digests

    return _digests(home, values)


def entries_for(
    store: Store, digests: list[bytes], kinds: tuple[str, ...] = ("lookup",)
) -> list[dict[str, Any]]:
    """The entries that name any of these people's digests."""
    from pupilshare.ledger.batch import entries_for as _entries

    return _entries(store, digests, kinds)


def present(store: Store, release_ids: list[str]) -> set[str]:
    """Which of these ``release_id`` values the ledger already holds."""
    from pupilshare.ledger.batch import present as _present

    return _present(store, release_ids)
