"""The web service's one door to ``pupilshare.identity``: sign-in with a password
(and a second factor for privileged roles), API tokens, and the signed-in principal
of each request. Identity records every attempt, failure and lock-out; the service
adds only its own rate limit in front."""

from __future__ import annotations

from pupilshare.config import Home
from pupilshare.governance import Actor


def sign_in(home: Home, username: str, password: str, code: str | None,
            source: str) -> Actor:  # fmt: skip
    """The signed-in principal, or ``SignInFailed`` (recorded by identity)."""
    from pupilshare import identity

    return identity.sign_in(home, username, password, code or None, source=source)


def token_actor(home: Home, token: str) -> Actor:
    """The principal an API token acts as (``SignInFailed`` when it is not live)."""
    from pupilshare import identity

    return identity.token_principal(home, token)
