"""governance: the digest of the terms each panel sitting and decision approved

Existing rows get none: nothing proves the terms they approved are the terms stored
now (an edit in place leaves no trace), so an agreement decided before this
migration releases nothing until it is decided again (fail closed).

Revision ID: 0005_terms_digest
Revises: 0004_sign_in_counts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_terms_digest"
down_revision = "0004_sign_in_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("panel_reviews", "decisions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("terms_digest", sa.String(length=64), nullable=True)
            )


def downgrade() -> None:
    for table in ("panel_reviews", "decisions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("terms_digest")
