"""Who is asking on the command line: the local operator, or a named user proved
by their credentials.

``--user NAME`` (``$PUPILSHARE_USER``) asks for NAME's password, and a code when
their roles need one: on a terminal by prompt (never echoed), otherwise one line
each from standard input (as ``docker login --password-stdin`` reads it), so a
script can pipe them in without putting them in its arguments or environment.
``--token`` (``$PUPILSHARE_TOKEN``) presents an API token instead. With neither, the
command acts as the home's unnamed local operator, who holds only data operations'
permissions and never what needs a signed-in principal.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session

from pupilshare.errors import Denied, SignInFailed
from pupilshare.governance.access import LOCAL_OPERATOR, Principal
from pupilshare.identity.signin import SecondFactorRequired, authenticate
from pupilshare.identity.tokens import verify_token

Ask = Callable[[str, bool], "str | None"]


def ask(prompt: str, hidden: bool = True) -> str | None:
    """One secret from the terminal, or one line of standard input; ``None`` when
    there is none to read."""
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            return getpass.getpass(prompt) if hidden else input(prompt)
        line = sys.stdin.readline() if sys.stdin is not None else ""
    except (OSError, EOFError, ValueError, KeyboardInterrupt):
        return None
    return line.rstrip("\r\n") or None


def resolve(
    session: Session,
    username: str | None,
    token: str | None,
    *,
    source: str = "cli",
    asker: Ask = ask,
) -> Principal:
    """The principal for ``--user``/``--token``: signed in, or ``SignInFailed``."""
    if token:
        who = verify_token(session, token, source=source)
        if username and username != who.username:
            raise Denied(f"that API token is not {username}'s")
        return who
    if not username:
        return LOCAL_OPERATOR
    needs = (
        f"acting as {username} needs their password (prompted on a terminal, "
        "or a line on standard input) or an API token (--token or "
        "$PUPILSHARE_TOKEN)"
    )
    password = asker(f"password for {username}: ", True)
    if password is None:
        raise SignInFailed(needs)
    try:
        return authenticate(session, username, password, source=source)
    except SecondFactorRequired:
        code = asker(f"authentication code for {username}: ", False)
        if code is None:
            raise SignInFailed(f"{username} needs an authentication code too") from None
        return authenticate(session, username, password, code, source=source)
