"""identity: the rate limits' bucketed counts (sign_in_counts)

Revision ID: 0004_sign_in_counts
Revises: 0003_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_sign_in_counts"
down_revision = "0003_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_counts",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "bucket"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_counts")
