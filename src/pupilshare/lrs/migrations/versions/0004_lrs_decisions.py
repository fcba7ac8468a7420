"""Learner-service agreements decided like any other: the panel's sitting and the
Chief Statistician's decision on each (``lrs_decisions``). Agreements recorded
before this have none, so the service answers no look-up under them until they
are decided (fail closed).

Revision ID: lrs0004
Revises: lrs0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lrs0004"
down_revision = "lrs0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # lrs0001 made the models as they stood when it ran: a home made since has it
    if sa.inspect(op.get_bind()).has_table("lrs_decisions"):
        return
    op.create_table(
        "lrs_decisions",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("views", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id"),
    )
    op.create_index("ix_lrs_decisions_agreement_id", "lrs_decisions", ["agreement_id"])


def downgrade() -> None:
    op.drop_table("lrs_decisions")
