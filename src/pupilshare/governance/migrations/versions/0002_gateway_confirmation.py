"""gateway confirmation: who added a legal gateway and the Chief Statistician who
confirmed it (a gateway takes effect only once confirmed)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:05:00

Gateways recorded before this revision stay unconfirmed (fail closed): no new
agreement is submitted or decided under them until the Chief Statistician confirms.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("added_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.drop_column("confirmed_at")
        batch.drop_column("confirmed_by")
        batch.drop_column("added_by")
