"""The learner service's records: agreements, learners, registrations, reviews,
look-ups, achievements, consents, opt-outs, corrections, holds, watch events.

Revision ID: lrs0001
Revises:
"""

from __future__ import annotations

from alembic import op

from pupilshare.lrs.models import Base

revision = "lrs0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the first schema is the models as they stand; later changes are real ops
    Base.metadata.create_all(op.get_bind())


def downgrade() -> None:
    Base.metadata.drop_all(op.get_bind())
