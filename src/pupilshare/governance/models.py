"""The governance records: who may receive what, under which law, decided by whom.

SQLAlchemy 2 models, portable between SQLite (the embedded default) and PostgreSQL.
Lists (levels, datasets, roles, conditions) are JSON columns: they are read whole,
never queried piecewise. Nothing here is ever deleted; a change is a new row (a
transition, a decision, an amendment, an organisation change).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ORG_TYPES = (
    "government department",
    "regulator",
    "local authority",
    "awarding organisation",
    "research organisation",
    "school/post-16 institution",
    "research agency",
    "individual",  # parents and pupils, who act only for themselves
    "training provider",
    "learners",  # the register's learners, who sign in to their own record
)
ROLES = (
    "data_operations",
    "panel_member",
    "chief_statistician",
    "recipient",
    "la_officer",
    "parent_or_pupil",
    "public",
    "lrs_user",
    "learner",
)
STATUSES = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "active",
    "suspended",
    "expired",
    "revoked",
)
FREQUENCIES = ("one-off", "termly", "annual")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Organisation(Base):
    """A recipient (or the department itself) with a legal identity; ``status`` is
    ``suspended`` after a change of name, identity or ownership until re-approved."""

    __tablename__ = "organisations"
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_type: Mapped[str] = mapped_column(String(40))
    legal_id: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    min_pupil_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class OrgChange(Base):
    """A change of an organisation's name, identity or ownership: who, when, why."""

    __tablename__ = "org_changes"
    change_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.org_id"))
    field: Mapped[str] = mapped_column(String(40))
    old: Mapped[str] = mapped_column(String(200))
    new: Mapped[str] = mapped_column(String(200))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    """A named person of an organisation; access is theirs, never the organisation's."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.org_id"))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class UserChange(Base):
    """Every grant or removal of roles, and every (de)activation: who, when, why."""

    __tablename__ = "user_changes"
    change_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username"))
    roles_before: Mapped[list[Any]] = mapped_column(JSON)
    roles_after: Mapped[list[Any]] = mapped_column(JSON)
    active: Mapped[int] = mapped_column(Integer)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")


class Gateway(Base):
    """A legal gateway: the statute and section allowing a share, and what it allows.

    A gateway takes effect only once the Chief Statistician confirms it
    (``confirmed_by``), and never on the word of whoever added it."""

    __tablename__ = "gateways"
    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    statute: Mapped[str] = mapped_column(String(300))
    section: Mapped[str] = mapped_column(String(200))
    allows: Mapped[str] = mapped_column(Text)
    levels: Mapped[list[Any]] = mapped_column(JSON)
    datasets: Mapped[list[Any]] = mapped_column(JSON)
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    added_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Agreement(Base):
    """A data sharing agreement. ``spec`` holds the terms as submitted (datasets and
    items with justifications, population, tables, conditions); once approved it
    changes only through an amendment, and ``version`` counts those."""

    __tablename__ = "agreements"
    agreement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.org_id"))
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.gateway_id"))
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(20))
    frequency: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date)
    destroy_by: Mapped[date] = mapped_column(Date)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    gateway: Mapped[Gateway] = relationship(lazy="joined")


class Transition(Base):
    """Every change of an agreement's status (and every refused submission)."""

    __tablename__ = "transitions"
    transition_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.agreement_id"))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text)


class PanelReview(Base):
    """One sitting of the approval panel on an agreement or an amendment."""

    __tablename__ = "panel_reviews"
    review_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.agreement_id"))
    amendment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    held_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))
    quorum: Mapped[int] = mapped_column(Integer)
    quorate: Mapped[int] = mapped_column(Integer)
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # ``terms.digest`` of the terms the panel sat on (an amendment's: the terms as
    # amended); none on sittings recorded before digests were kept
    terms_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PanelView(Base):
    """A member present at a sitting: their view and reasons, or a declared conflict
    (a conflicted member is recorded but their view does not count)."""

    __tablename__ = "panel_views"
    view_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("panel_reviews.review_id"))
    member: Mapped[str] = mapped_column(ForeignKey("users.username"))
    view: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text, default="")
    conflict: Mapped[str] = mapped_column(Text, default="")


class Decision(Base):
    """The Chief Statistician's decision on an agreement (or an amendment)."""

    __tablename__ = "decisions"
    decision_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.agreement_id"))
    amendment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    review_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text)
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # ``terms.digest`` of the terms decided (an approved amendment's: as amended);
    # a release runs only terms whose digest is the latest approving decision's,
    # and a decision without one (made before digests were kept) approves nothing
    terms_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Amendment(Base):
    """A proposed change to an approved agreement, held as a diff of its terms:
    ``diff`` maps each changed term to ``[approved value, proposed value]``."""

    __tablename__ = "amendments"
    amendment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreements.agreement_id"))
    base_version: Mapped[int] = mapped_column(Integer)
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="submitted")


class DisclosureDecision(Base):
    """Every answer of the one decision point, with the policy version that gave it."""

    __tablename__ = "disclosure_decisions"
    decision_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    principal: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    agreement_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    items: Mapped[list[Any]] = mapped_column(JSON)
    population: Mapped[dict[str, Any]] = mapped_column(JSON)
    allowed: Mapped[int] = mapped_column(Integer)
    rules: Mapped[list[Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(64))


# -- identity: credentials, API tokens, sign-ins (``pupilshare.identity``) -----------
class Credential(Base):
    """How a user proves who they are: an argon2 password hash, a TOTP secret (for
    roles that need a second factor) with the last time step accepted (a code is
    never accepted twice), and the lock state: ``failures`` in a row lock the account
    until ``locked_until``; ``locked`` is a lock put on by user management, lifted
    only by them."""

    __tablename__ = "credentials"
    username: Mapped[str] = mapped_column(
        ForeignKey("users.username"), primary_key=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """An API token a user made for themselves: only the SHA-256 of its secret is
    kept; it acts as that user until it expires or is revoked."""

    __tablename__ = "api_tokens"
    token_id: Mapped[str] = mapped_column(String(24), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SignIn(Base):
    """Every sign-in attempt and its outcome (``ok``, a failure, ``locked_out`` when
    failures lock the account, ``rate_limited``), every lock and unlock, and every
    credential change. ``username`` is what was typed, so unknown names are kept
    too; ``source`` is where the attempt came from (``cli``, ``web:ADDRESS``)."""

    __tablename__ = "sign_ins"
    sign_in_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    # who made a credential change (a password set, a second factor enrolled, a
    # lock or unlock) to ``username``'s account: the separation of duties follows
    # these, with ``user_changes``, through chains of accounts
    changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SignInCount(Base):
    """The rate limits' counts, kept beside the ``sign_ins`` rows they count:
    attempts per ``user:NAME`` (password sign-ins) and failures per
    ``source:ADDRESS``, one row per key and window-long ``bucket``, added to in the
    transaction that records the attempt. A limit check reads two rows by primary
    key (this bucket and the one before) instead of counting ``sign_ins``, which an
    attacker could otherwise grow without end; shared by every process."""

    __tablename__ = "sign_in_counts"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
