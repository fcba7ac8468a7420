"""The ledger's two secrets, kept under ``HOME/keys/`` and never in the store.

- The pupil digest key: pupils appear in the ledger only as HMAC-SHA256(key,
  pupil key), so the ledger can be published without identifying anyone, while the
  department (holding the key) can still find a pupil's disclosures for a subject
  access request or an opt-out check.
- The Ed25519 signing key of checkpoints; its public half is printed with every
  checkpoint for outsiders to keep.

Both are made on first use with mode 0600 (the folder 0700).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from pupilshare.config import Home

DIGEST_KEY = "ledger-pupil-digest.key"
SIGNING_KEY = "ledger-signing.key"


def _secret_file(home: Home, name: str, make: Callable[[], bytes]) -> bytes:
    home.keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(home.keys_dir, 0o700)
    path = home.keys_dir / name
    if not path.exists():
        data = make()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return Path(path).read_bytes()


def digest_key(home: Home) -> bytes:
    return _secret_file(home, DIGEST_KEY, lambda: secrets.token_bytes(32))


def signing_key(home: Home) -> Ed25519PrivateKey:
    raw = _secret_file(
        home,
        SIGNING_KEY,
        lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        ),
    )
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def pupil_digest(key: bytes, pupil_key: int) -> bytes:
    """HMAC-SHA256 of the pupil key's decimal text (what ``digest_sql`` computes)."""
    return hmac.new(key, str(int(pupil_key)).encode(), hashlib.sha256).digest()


def digest_sql(key: bytes, column: str) -> str:
    """HMAC-SHA256(key, CAST(column AS VARCHAR)) as a BLOB, in DuckDB SQL: pushed into
    the engine so a 10 M pupil release is digested without a Python loop. HMAC is
    H((K ^ opad) || H((K ^ ipad) || m)) with the key padded to the 64-byte block."""
    block = key.ljust(64, b"\x00") if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\x00")
    ipad = bytes(b ^ 0x36 for b in block).hex()
    opad = bytes(b ^ 0x5C for b in block).hex()
    inner = f"unhex(sha256(unhex('{ipad}') || encode(CAST({column} AS VARCHAR))))"
    return f"unhex(sha256(unhex('{opad}') || {inner}))"
