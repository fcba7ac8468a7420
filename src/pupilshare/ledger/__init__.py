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
    "checkpoint", "export", "prove", "publish_head", "releases_by_agreement",
    "verify",
]  # fmt: skip


def publish_head(store: Store, home: Home) -> dict[str, Any]:
    """Sign the current head and write it to ``HOME/ledger/head.json``."""
    from pupilshare.ledger import log

    cp = log.checkpoint(store, home)
    log.write_head(home, cp)
    return cp.as_json()


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
