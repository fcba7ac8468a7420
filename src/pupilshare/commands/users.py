"""``pupilshare users``: named users, their roles and their credentials.

``add`` issues a generated password (and a TOTP secret when a role needs a second
factor), shown once, to be handed over out of band; ``passwd`` changes or resets
one; ``token`` makes, lists and revokes the user's own API tokens; ``lock`` locks
or unlocks an account; ``sign-ins`` reads the sign-in records. Who may do what is
``pupilshare.identity``'s and ``governance.orgs.may_manage``'s to say.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from pupilshare import governance as gov
from pupilshare import identity
from pupilshare.cliapp import context
from pupilshare.commands.governance import JSON, _print, _records, _say, _table
from pupilshare.errors import Denied, InvalidInput

users_app = typer.Typer(
    help="Named users, their roles and credentials.", no_args_is_help=True
)
token_app = typer.Typer(
    help="Your API tokens (for scripts and the JSON API).", no_args_is_help=True
)


def _hand_over(issued: Any, as_json: bool = False) -> None:
    """Show issued credentials once (they are kept only as hashes)."""
    if as_json:
        return _print(
            {
                "username": issued.username,
                "password": issued.password,
                "totp_secret": issued.totp_secret,
                "totp_uri": issued.totp_uri,
            }
        )
    if issued.password:
        _say(f"  password for {issued.username}: {issued.password}")
    if issued.totp_secret:
        _say(f"  TOTP secret for {issued.username}: {issued.totp_secret}")
        _say(f"  authenticator app address: {issued.totp_uri}")
    _say("  shown once: hand it to the user by a separate, secure channel")


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Named users, their organisations and roles."""
    with _records(ctx) as (s, who):
        rows = gov.list_users(s, who)
    if as_json:
        return _print(rows)
    _table("users", rows, ["username", "name", "org", "roles", "active"])


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: str,
    name: str = typer.Option(..., "--name"),
    org: str = typer.Option(..., "--org"),
    role: list[str] = typer.Option(..., "--role"),
    as_json: bool = JSON,
) -> None:
    """Add a named user of an organisation with their roles, and issue a generated
    password (and a TOTP secret when a role needs a second factor)."""
    with _records(ctx) as (s, who):
        gov.add_user(s, who, username, name, org, role)
        issued = identity.issue(s, who, username)
    if not as_json:
        _say(f"user {username} added")
    _hand_over(issued, as_json)


@users_app.command("roles")
def users_roles(
    ctx: typer.Context,
    username: str,
    role: list[str] = typer.Option([], "--role"),
    active: bool = typer.Option(True, "--active/--inactive"),
    reason: str = typer.Option(..., "--reason"),
) -> None:
    """Replace a user's roles, or deactivate them (deciding roles: only the Chief
    Statistician grants them). A role that needs a second factor enrols one."""
    with _records(ctx) as (s, who):
        gov.set_roles(s, who, username, role, active, reason)
        issued = (
            identity.enrol_totp(s, who, username)
            if active and identity.needs_enrolment(s, username)
            else None
        )
    _say(
        f"user {username}: {', '.join(role) or 'no roles'}"
        f"{'' if active else ' (inactive)'}"
    )
    if issued:
        _hand_over(issued)


def _new_password() -> str:
    first = identity.ask("new password: ", True)
    if first is None:
        raise InvalidInput(
            "no new password given (prompted on a terminal, or a "
            "line on standard input); or use --generate"
        )
    if sys.stdin is not None and sys.stdin.isatty():
        if identity.ask("new password again: ", True) != first:
            raise InvalidInput("the two passwords differ")
    return first


@users_app.command("passwd")
def users_passwd(
    ctx: typer.Context,
    username: str = typer.Argument(None, help="Whose (default: yours)."),
    generate: bool = typer.Option(
        False, "--generate", help="Generate your new password instead of typing it."
    ),
    totp: bool = typer.Option(
        False, "--totp", help="Also issue a new TOTP secret (a lost phone)."
    ),
) -> None:
    """Change your password (signed in with it), or reset another user's: a reset
    is generated and shown once, and needs the right to grant that user's roles."""
    who = context(ctx).principal()
    username = username or (who.username if who.named else "")
    if not username:
        raise InvalidInput("name the user, or act as yourself with --user")
    own = who.named and who.username == username
    new = _new_password() if own and not generate else None
    with _records(ctx) as (s, who):
        issued = identity.issue(s, who, username, new)
        if totp:
            secret = identity.enrol_totp(s, who, username).totp_secret
            issued = identity.Issued(username, issued.password, secret)
    _say(f"password for {username} changed")
    if not own or generate or issued.totp_secret:
        _hand_over(
            identity.Issued(
                username,
                None if own and not generate else issued.password,
                issued.totp_secret,
            )
        )


@users_app.command("lock")
def users_lock(
    ctx: typer.Context,
    username: str,
    reason: str = typer.Option(..., "--reason"),
    unlock: bool = typer.Option(
        False, "--unlock", help="Lift the lock (either kind) instead."
    ),
) -> None:
    """Lock an account: its password and tokens stop working until unlocked.
    Accounts also lock by themselves for 15 minutes after 5 failures in a row."""
    with _records(ctx) as (s, who):
        (identity.unlock if unlock else identity.lock)(s, who, username, reason)
    _say(f"{username} {'unlocked' if unlock else 'locked'}")


@users_app.command("sign-ins")
def users_sign_ins(
    ctx: typer.Context,
    username: str = typer.Argument(None, help="Only this user."),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JSON,
) -> None:
    """The sign-in records, newest first: every attempt, lock-out and credential
    change (yours, or anyone's for user management)."""
    with _records(ctx) as (s, who):
        if not (who.named and username == who.username):
            who.require("manage_users", "read other users' sign-ins")
        rows = identity.history(s, username, limit)
    if as_json:
        return _print(rows)
    _table(
        "sign-ins", rows, ["at", "username", "method", "source", "outcome", "detail"]
    )


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    label: str = typer.Option(..., "--label", help="What it is for."),
    days: int = typer.Option(30, "--days", help="Days until it expires (at most 365)."),
) -> None:
    """Make an API token for yourself (signed in with your password); it is shown
    once. Use it as --token or $PUPILSHARE_TOKEN, or as a Bearer token."""
    with _records(ctx) as (s, who):
        if not who.named:
            raise Denied("the local operator has no API tokens: act as --user NAME")
        token, row = identity.create_token(s, who, label, days)
    _say(
        f"token {row.token_id} for {row.username}, expires "
        f"{row.expires_at:%Y-%m-%d %H:%M} UTC (shown once):"
    )
    print(token)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    username: str = typer.Argument(None, help="Whose (default: yours)."),
    as_json: bool = JSON,
) -> None:
    """API tokens (never their secrets): yours, or anyone's for user management."""
    with _records(ctx) as (s, who):
        if not (username or who.named):
            raise InvalidInput("name the user, or act as yourself with --user")
        rows = identity.list_tokens(s, who, username)
    if as_json:
        return _print(rows)
    _table(
        "API tokens", rows, ["id", "label", "created", "expires", "last_used", "state"]
    )


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context, token_id: str, reason: str = typer.Option("", "--reason")
) -> None:
    """Revoke an API token (yours, or anyone's for user management)."""
    with _records(ctx) as (s, who):
        row = identity.revoke_token(s, who, token_id, reason)
    _say(f"token {row.token_id} of {row.username} revoked")


def register(app: typer.Typer) -> None:
    users_app.add_typer(token_app, name="token")
    app.add_typer(users_app, name="users")
