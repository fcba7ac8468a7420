"""The Learning Records Service's own records, beside governance in the same
database (SQLite in the home, PostgreSQL in production) but in tables of their own
(``lrs_*``), migrated by their own Alembic chain: the service writes them while it
serves, which the pupil store (DuckDB, one writer: the command line) cannot allow.

Nothing is deleted: a learner's details change only by an accepted correction, a
consent is withdrawn by a new row, a hold is lifted by setting ``lifted_at``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ServiceAgreement(Base):
    """An organisation's agreement to use the learner service: why, how many
    look-ups a month it expects, and which items its answers may hold."""

    __tablename__ = "lrs_agreements"
    agreement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    org_type: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(Text)
    monthly_volume: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ServiceDecision(Base):
    """A step in deciding a learner-service agreement, decided like any other
    agreement: the approval panel's sitting (``kind`` ``panel``: its checked
    ``views``, ``outcome`` ``quorate`` or not) and then the Chief Statistician's
    decision (``kind`` ``chief``: ``approved`` or ``rejected``). Never changed:
    look-ups run only under an agreement whose latest ``chief`` row approves it."""

    __tablename__ = "lrs_decisions"
    decision_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[str] = mapped_column(Text, default="")
    views: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Learner(Base):
    """One learner on the register and their ULN. ``*_key`` columns are the
    normalised forms the matcher blocks and compares on."""

    __tablename__ = "lrs_learners"
    learner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uln: Mapped[str] = mapped_column(String(10), unique=True)
    forenames: Mapped[str] = mapped_column(String(200))
    surname: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date] = mapped_column(Date, index=True)
    sex: Mapped[str] = mapped_column(String(1))
    postcode: Mapped[str] = mapped_column(String(10))
    upn: Mapped[str | None] = mapped_column(String(13), nullable=True, index=True)
    forename_key: Mapped[str] = mapped_column(String(100))
    surname_key: Mapped[str] = mapped_column(String(100))
    birth_year: Mapped[int] = mapped_column(Integer)
    pupil_key: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(20))  # index | register
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    username: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)

    __table_args__ = (
        Index("lrs_learners_surname_year", "surname_key", "birth_year"),
        Index("lrs_learners_postcode_year", "postcode", "birth_year"),
    )


class Registration(Base):
    """A learner registered with an organisation (what it may later look up)."""

    __tablename__ = "lrs_registrations"
    registration_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(Integer)
    org_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("lrs_registrations_org", "org_id", "learner_id"),)


class ReviewCase(Base):
    """A registration that matched more than one learner, or none surely: held for
    a clerk, its ULN never returned to the organisation."""

    __tablename__ = "lrs_reviews"
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    candidates: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str] = mapped_column(Text, default="")
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Lookup(Base):
    """Every answer the service gave about a learner (or about nobody), written in
    the answer's own transaction; ``ledger_index`` once sealed into the ledger."""

    __tablename__ = "lrs_lookups"
    lookup_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    org_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    agreement_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(30))
    learner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    items: Mapped[list[Any]] = mapped_column(JSON)
    ledger_index: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("lrs_lookups_org_at", "org_id", "at"),
        Index("lrs_lookups_learner", "learner_id"),
        Index("lrs_lookups_unsealed", "ledger_index", "lookup_id"),
    )


class Achievement(Base):
    """A result an awarding organisation submitted against a ULN."""

    __tablename__ = "lrs_achievements"
    achievement_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(Integer, index=True)
    org_id: Mapped[str] = mapped_column(String(64))
    qualification: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    grade: Mapped[str] = mapped_column(String(20))
    awarded_on: Mapped[date] = mapped_column(Date)
    batch: Mapped[str] = mapped_column(String(64))
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(DateTime)


class Consent(Base):
    """A learner's grant (or withdrawal) of an organisation's access to their
    achievements; the newest row per learner and organisation is in force."""

    __tablename__ = "lrs_consents"
    consent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(Integer, index=True)
    org_id: Mapped[str] = mapped_column(String(64))
    granted: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    by: Mapped[str] = mapped_column(String(64))


class OptOut(Base):
    """The learner's own opt-out of achievement sharing, given on their page
    (newest row in force); opt-outs recorded by data operations in the rights
    area are honoured as well, read from the store."""

    __tablename__ = "lrs_optouts"
    optout_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(Integer, index=True)
    opted_out: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    by: Mapped[str] = mapped_column(String(64))
    passed_on: Mapped[int] = mapped_column(Integer, default=0)  # to the rights area


class Correction(Base):
    """A learner's request to correct a detail, for a clerk to check."""

    __tablename__ = "lrs_corrections"
    correction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(Integer, index=True)
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), default="open")
    # the clerk's decision: accepted (the detail changed) or rejected, and why
    old_value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Hold(Base):
    """A user (or a whole organisation, ``username`` empty) throttled or suspended
    by the abuse watch, until data operations lift it."""

    __tablename__ = "lrs_holds"
    hold_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))  # throttled | suspended
    rule: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WatchEvent(Base):
    """What the abuse watch saw and did: a rule passed, a throttle, a suspension,
    an organisation flagged; sealed into the ledger like a look-up."""

    __tablename__ = "lrs_watch_events"
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    username: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    ledger_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WatchCount(Base):
    """The abuse watch's counts, shared by every process that serves, each row
    one user's (``username`` empty: rows counted before counts were kept per
    user): look-ups a day (``d2026-12-04``, with the day's details searches that
    matched nobody or found an unregistered learner) and a month (``m2026-12``),
    out-of-hours look-ups in five-minute slots (``h`` and the slot), refusals
    while throttled a day (``r`` and the day), and the time of their last look-up
    (``last``). Added to by an upsert in each look-up's own transaction; an
    organisation's count is the sum of its users' rows (``lrs_watch_counts_org``),
    so no row is written by every user of an organisation at once."""

    __tablename__ = "lrs_watch_counts"
    __table_args__ = (Index("lrs_watch_counts_org", "org_id", "period"),)
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
    no_match: Mapped[int] = mapped_column(Integer, default=0)
    unregistered: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UlnState(Base):
    """The service's next ULN stem (its own range, apart from the match run's)."""

    __tablename__ = "lrs_uln_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_stem: Mapped[int] = mapped_column(Integer)


class RightsOptOut(Base):
    """Learners with an opt-out of type ``learning_records`` in force in the rights
    area that data operations recorded (not the learner's own, passed on from
    their page): a snapshot, refreshed at every seal."""

    __tablename__ = "lrs_rights_optouts"
    learner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime)
