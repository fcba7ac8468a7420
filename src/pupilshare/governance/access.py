"""Users and roles: who is asking, and what their roles let them do.

Denied by default: a permission not granted to one of the asker's roles is refused.
With no named user the CLI acts as the local data-operations operator of the home,
who may collect, match, release and read the records but never decide: deciding
needs a named user holding the Chief Statistician role. A name alone is not an
identity: the permissions in ``SIGNED_IN_ONLY`` (deciding, revoking, granting the
deciding roles) are refused to a principal that did not sign in
(``pupilshare.identity`` makes signed-in principals: password, second factor, token).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from pupilshare.errors import Denied
from pupilshare.governance.models import User

OPERATOR = "operator"  # reserved: never the name of a user in the records
PRIVILEGED = frozenset({"chief_statistician", "panel_member"})  # the deciding roles
# roles whose sign-in needs a second factor (TOTP); user management is held by
# data operations ("manage_users" below)
SECOND_FACTOR = frozenset({"chief_statistician", "panel_member", "data_operations"})
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
    "confirm_gateway": frozenset({"chief_statistician"}),
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
    # the ledger: its signed head is for anyone to keep; verifying and proving need
    # the store; exporting publishes every entry (pupils only as keyed digests)
    "ledger_checkpoint": frozenset(
        {
            "data_operations",
            "panel_member",
            "chief_statistician",
            "recipient",
            "la_officer",
            "parent_or_pupil",
            "public",
        }
    ),
    "ledger_verify": frozenset(
        {"data_operations", "panel_member", "chief_statistician"}
    ),
    "ledger_export": frozenset({"data_operations", "chief_statistician"}),
    # people's rights: recorded by data operations on the pupil's or parent's word
    # (never by a recipient); exemptions only by a named Chief Statistician
    "record_rights": frozenset({"data_operations"}),
    "read_rights": frozenset({"data_operations", "chief_statistician"}),
    "exempt_opt_outs": frozenset({"chief_statistician"}),
    # a parent's or pupil's own account: their linked pupils' requests and opt-outs
    "own_rights": frozenset({"parent_or_pupil"}),
    # the learner service (``pupilshare.lrs``): an approved organisation's named
    # users register and look up learners under its agreement (achievements only
    # by awarding organisations, the area checks); data operations manage
    # agreements, the review queue and the abuse watch; a learner reads their own
    "lrs_use": frozenset({"lrs_user"}),
    "lrs_manage": frozenset({"data_operations"}),
    "lrs_own_record": frozenset({"learner"}),
}
# refused to anyone who did not sign in, whatever their roles
SIGNED_IN_ONLY = frozenset({"decide", "revoke", "grant_privileged", "confirm_gateway"})


@dataclass(frozen=True)
class Principal:
    """Who is asking: a named user, or the home's unnamed local operator.

    ``via`` says how they proved it: ``password``, ``password+totp`` or ``token``
    (made only by ``pupilshare.identity``); empty when they did not sign in (the
    local operator, or a name looked up by trusted code with ``actor``).
    """

    username: str
    org_id: str
    roles: frozenset[str]
    named: bool = True
    via: str = ""

    @property
    def signed_in(self) -> bool:
        return self.named and bool(self.via)

    def may(self, permission: str) -> bool:
        if permission in SIGNED_IN_ONLY and not self.signed_in:
            return False
        return bool(self.roles & PERMISSIONS.get(permission, frozenset()))

    def require(self, permission: str, what: str = "") -> None:
        if not self.may(permission):
            who = self.username if self.named else "the local operator"
            why = (
                ""
                if self.signed_in or permission not in SIGNED_IN_ONLY
                else " without signing in"
            )
            raise Denied(f"{who} may not {what or permission.replace('_', ' ')}{why}")


Actor = Principal  # the name the governance functions use for it


LOCAL_OPERATOR = Actor(
    OPERATOR, DEPARTMENT, frozenset({"data_operations"}), named=False
)


def actor(session: Session, username: str | None) -> Actor:
    """A user looked up by name, for trusted in-process code (seeds, tests): unknown
    or inactive users are denied outright, and the principal is not signed in, so it
    may not do what ``SIGNED_IN_ONLY`` holds. Faces (command line, web) never call
    this with a name someone typed: they call ``pupilshare.identity``."""
    if not username:
        return LOCAL_OPERATOR
    user = session.get(User, username)
    if user is None or not user.active:
        raise Denied(f"no active user {username!r}")
    return Actor(user.username, user.org_id, frozenset(user.roles or ()))
