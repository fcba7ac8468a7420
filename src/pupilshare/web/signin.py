"""The web service's one door to ``pupilshare.identity``: sign-in with a password
(and a TOTP code for the roles that need a second factor) and API tokens. Identity
checks, rate-limits and records every attempt, failure and lock-out; the service
adds only its own per-address limit in front (``WebState.by_address``)."""

from __future__ import annotations

from pupilshare.config import Home
from pupilshare.governance import Actor, session_scope


def sign_in(
    home: Home | str, username: str, password: str, code: str | None, source: str
) -> Actor:
    """The signed-in principal, or ``SignInFailed`` (recorded by identity)."""
    from pupilshare import identity

    with session_scope(home) as session:
        return identity.authenticate(
            session, username, password, code or None, source=source
        )


def token_actor(home: Home | str, token: str, source: str = "web") -> Actor:
    """The principal an API token acts as (``SignInFailed`` when it is not live)."""
    from pupilshare import identity

    with session_scope(home) as session:
        return identity.verify_token(session, token, source=source)


def resume(home: Home | str, username: str, via: str) -> Actor:
    """The principal of a session this service signed in, with the user's roles as
    they are now (``SignInFailed`` once locked, inactive or gone)."""
    from pupilshare import identity

    with session_scope(home) as session:
        return identity.resume(session, username, via)
