"""The pupil digest pushed into DuckDB is exactly HMAC-SHA256 of the key's text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pupilshare.ledger.keys import digest_sql, pupil_digest
from pupilshare.store import Store

STORE = Store()


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=100), st.integers(-(2**62), 2**62))
def test_sql_digest_is_hmac(key: bytes, pupil_key: int) -> None:
    got = STORE.one(
        f"SELECT {digest_sql(key, 'k')} FROM (SELECT ?::BIGINT AS k)", [pupil_key]
    )
    assert bytes(got) == pupil_digest(key, pupil_key)
