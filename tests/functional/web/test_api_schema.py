"""The JSON API against its own OpenAPI description: schemathesis generates requests
for every operation (as a recipient, an officer, the Chief Statistician and data
operations, each with an API token) and none may get a server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from pupilshare.config import Home

TOKEN_USERS = ("dh.analyst", "la1.officer", "dora.ops")


@pytest.fixture(scope="module")
def tokens(web_home: Home, credentials) -> list[str]:  # type: ignore[no-untyped-def]
    """API tokens made by each user for themselves, signed in by password."""
    from tests.functional.web.conftest import fresh_code

    from pupilshare import identity
    from pupilshare.governance import db

    out = []
    with db.factory(web_home.db_url)() as s:
        for name in TOKEN_USERS:
            issued = credentials[name]
            code = (
                fresh_code(web_home, name, issued.totp_secret)
                if issued.totp_secret
                else None
            )
            who = identity.authenticate(s, name, issued.password, code)
            token, _ = identity.create_token(s, who, "schemathesis")
            s.commit()  # before identity's next record (one SQLite writer)
            out.append(token)
    return out


def test_no_server_error(app, tokens) -> None:  # type: ignore[no-untyped-def]
    """Every operation, generated from the schema (schemathesis' strategies driven
    by hypothesis here: its pytest plugin does not load under this pytest)."""
    api = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 20

    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case) -> None:  # type: ignore[no-untyped-def]
            for token in [None, *tokens]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                r = case.call(headers=headers)
                assert r.status_code < 500, (
                    case.operation.label,
                    token and token[:12],
                    r.text[:500],
                )

        no_server_error()
