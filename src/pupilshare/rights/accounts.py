"""Parents' and pupils' accounts, linked to the pupils they may act for.

A parent or pupil signs in to the web service with an account (role
``parent_or_pupil``). Which pupils that account may act for is decided by the
department once, when it checks the person's identity (and, for a parent, that they
are the child's parent): ``pupilshare accounts link USER --relation self|child``
records the pupil's details as given and how the check was made. The web service
offers an account only its linked pupils; a request or opt-out for anyone else is
refused, and the notice's rules (a pupil of 12 or over acts for themself, a parent
for a child under 12, or for an older child with their consent) are checked on the
same code path as the command line.

Held in the pupil store beside the opt-outs (never in the pupil record), with full
history: a link is ended, never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pupilshare.errors import Conflict, InvalidInput, NotFound
from pupilshare.rights.identity import Subject, check_requester
from pupilshare.rights.optouts import now
from pupilshare.store import Store

RELATIONS = {"self": "pupil", "child": "parent"}  # relation -> who asks
DDL = (
    "CREATE TABLE IF NOT EXISTS account_pupils (link_id BIGINT NOT NULL, "
    "username VARCHAR NOT NULL, relation VARCHAR NOT NULL, forename VARCHAR NOT "
    "NULL, surname VARCHAR NOT NULL, date_of_birth DATE NOT NULL, upn VARCHAR, "
    "uln VARCHAR, identity_check VARCHAR NOT NULL, linked_by VARCHAR NOT NULL, "
    "linked_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, ended_by VARCHAR)"
)
COLS = (
    "link_id",
    "username",
    "relation",
    "forename",
    "surname",
    "date_of_birth",
    "upn",
    "uln",
    "identity_check",
    "linked_by",
    "linked_at",
)


@dataclass(frozen=True)
class Link:
    """One pupil an account may act for, and how the department checked it."""

    link_id: int
    username: str
    relation: str
    who: Subject
    identity_check: str
    linked_by: str
    linked_at: datetime

    @property
    def requester(self) -> str:
        return RELATIONS[self.relation]

    @property
    def checked(self) -> str:
        """The identity check a request or opt-out made through the link records."""
        return (
            f"signed in as {self.username}, whose account the department linked to "
            f"the pupil on {self.linked_at:%Y-%m-%d} after: {self.identity_check}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "link_id": self.link_id,
            "relation": self.relation,
            "forename": self.who.forename,
            "surname": self.who.surname,
            "date_of_birth": self.who.date_of_birth.isoformat(),
            "linked_at": self.linked_at.isoformat(timespec="seconds"),
        }


def ensure(store: Store) -> None:
    store.rows(DDL)


def link(
    store: Store,
    username: str,
    who: Subject,
    relation: str,
    identity_check: str,
    linked_by: str,
    today: date | None = None,
) -> Link:
    """Let ``username`` act for the pupil ``who`` (idempotent). ``self``: the
    account is the pupil's own (12 or over); ``child``: a parent's."""
    if relation not in RELATIONS:
        raise InvalidInput(f"relation must be one of {', '.join(RELATIONS)}")
    if not identity_check.strip():
        raise InvalidInput(
            "say how the person's identity (and a parent's relationship to the "
            "child) was checked (--identity-check)"
        )
    check_requester(who, RELATIONS[relation], today)
    ensure(store)
    for existing in links(store, username):
        if existing.who.key == who.key:
            if existing.relation != relation:
                raise Conflict(
                    f"{username} is already linked to this pupil as {existing.relation}"
                )
            return existing
        if relation == "self" and existing.relation == "self":
            raise Conflict(f"{username} is already linked to its own pupil record")
    next_id = store.one("SELECT coalesce(max(link_id), 0) + 1 FROM account_pupils")
    store.rows(
        "INSERT INTO account_pupils VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, "
        "NULL)",
        [
            next_id,
            username,
            relation,
            who.forename,
            who.surname,
            who.date_of_birth,
            who.upn,
            who.uln,
            identity_check,
            linked_by,
            now(),
        ],
    )
    return link_of(store, username, int(next_id))


def unlink(store: Store, username: str, link_id: int, ended_by: str) -> None:
    link_of(store, username, link_id)
    store.rows(
        "UPDATE account_pupils SET ended_at = ?, ended_by = ? WHERE link_id = ?",
        [now(), ended_by, link_id],
    )


def links(store: Store, username: str | None = None) -> list[Link]:
    """The links in force (of one account, or of all)."""
    if not store.exists("account_pupils"):
        return []
    rows = store.rows(
        f"SELECT {', '.join(COLS)} FROM account_pupils WHERE ended_at IS NULL "
        + ("AND username = ? " if username is not None else "")
        + "ORDER BY link_id",
        [username] if username is not None else [],
    )
    return [_link(r) for r in rows]


def link_of(store: Store, username: str, link_id: int) -> Link:
    """The account's own link ``link_id``; any other is unknown to it."""
    for got in links(store, username):
        if got.link_id == link_id:
            return got
    raise NotFound(f"no pupil {link_id} linked to {username}")


def _link(row: tuple) -> Link:
    d = dict(zip(COLS, row, strict=True))
    return Link(
        int(d["link_id"]),
        d["username"],
        d["relation"],
        Subject(d["forename"], d["surname"], d["date_of_birth"], d["upn"], d["uln"]),
        d["identity_check"],
        d["linked_by"],
        d["linked_at"],
    )
