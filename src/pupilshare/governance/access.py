"""Users and roles: who is asking, and what their roles let them do.

Denied by default: a permission not granted to one of the asker's roles is refused.
With no named user the CLI acts as the local data-operations operator of the home,
who may collect, match, release and read the records but never decide: deciding
needs a named user holding the Chief Statistician role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from pupilshare.config import Home
from pupilshare.errors import Denied
from pupilshare.governance.models import User

OPERATOR = "operator"  # reserved: never the name of a user in the records
PRIVILEGED = frozenset({"chief_statistician", "panel_member"})
DEPARTMENT = "department"

# permission -> roles that hold it; anything not listed here is denied.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"data_operations", "panel_member", "chief_statistician"}),
    "read_own": frozenset({"recipient", "la_officer"}),
    "submit": frozenset({"data_operations", "recipient", "la_officer"}),
    "amend": frozenset({"data_operations", "recipient", "la_officer"}),
    "record_panel": frozenset({"data_operations", "chief_statistician"}),
    "sit_on_panel": frozenset({"panel_member", "chief_statistician"}),
    "decide": frozenset({"chief_statistician"}),
    "activate": frozenset({"data_operations", "chief_statistician"}),
    "revoke": frozenset({"chief_statistician"}),
    "manage_orgs": frozenset({"data_operations"}),
    "manage_users": frozenset({"data_operations"}),
    "grant_privileged": frozenset({"chief_statistician"}),
    "manage_gateways": frozenset({"data_operations", "chief_statistician"}),
    "publish_register": frozenset({"data_operations", "chief_statistician"}),
    "release": frozenset({"data_operations"}),
    # the pupil-data steps: only data operations touch the store's records
    "synthesise": frozenset({"data_operations"}),
    "collect": frozenset({"data_operations"}),
    "match": frozenset({"data_operations"}),
    "review": frozenset({"data_operations"}),
    "link": frozenset({"data_operations"}),
    "run_demo": frozenset({"data_operations"}),
    "read_status": frozenset({"data_operations", "panel_member", "chief_statistician"}),
    # the web service: a recipient's own releases; an officer's own authority's pupils
    "download_own": frozenset({"recipient", "la_officer"}),
    "la_pupils": frozenset({"la_officer"}),
}


@dataclass(frozen=True)
class Actor:
    """Who is asking: a named user, or the home's unnamed local operator."""

    username: str
    org_id: str
    roles: frozenset[str]
    named: bool = True

    def may(self, permission: str) -> bool:
        if permission == "decide" and not self.named:
            return False
        return bool(self.roles & PERMISSIONS.get(permission, frozenset()))

    def require(self, permission: str, what: str = "") -> None:
        if not self.may(permission):
            who = self.username if self.named else "the local operator"
            raise Denied(f"{who} may not {what or permission.replace('_', ' ')}")


LOCAL_OPERATOR = Actor(
    OPERATOR, DEPARTMENT, frozenset({"data_operations"}), named=False
)


def authorise(
    home: Home, username: str | None, permission: str, what: str = ""
) -> Actor:
    """The one check every command makes before it acts: who is asking, and may they?

    The local operator needs no records; a named user is looked up in the governance
    records (an unknown or inactive user is denied).
    """
    if not username:
        who = LOCAL_OPERATOR
    else:
        from pupilshare.governance import db

        with db.factory(home.db_url)() as session:
            who = actor(session, username)
    who.require(permission, what)
    return who


def actor(session: Session, username: str | None) -> Actor:
    """The actor for ``--user``: unknown or inactive named users are denied outright."""
    if not username:
        return LOCAL_OPERATOR
    user = session.get(User, username)
    if user is None or not user.active:
        raise Denied(f"no active user {username!r}")
    return Actor(user.username, user.org_id, frozenset(user.roles or ()))
