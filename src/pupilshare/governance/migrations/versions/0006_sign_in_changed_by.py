"""identity: who made each credential change (sign_ins.changed_by)

The separation of duties follows who created or changed which account through
chains of accounts. Credential changes recorded before this named their maker
only in ``detail`` ("by NAME", written by ``identity.manage``): the column is
filled from it, for those rows only.

Revision ID: 0006_sign_in_changed_by
Revises: 0005_terms_digest
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0006_sign_in_changed_by"
down_revision = "0005_terms_digest"
branch_labels = None
depends_on = None

_BY = re.compile(r"^by ([a-z0-9][a-z0-9.-]*)(?:$|[,:])")


def upgrade() -> None:
    with op.batch_alter_table("sign_ins") as batch:
        batch.add_column(sa.Column("changed_by", sa.String(length=64), nullable=True))
    con = op.get_bind()
    rows = con.execute(
        sa.text(
            "SELECT sign_in_id, detail FROM sign_ins WHERE method = 'manage' AND "
            "outcome IN ('password_set', 'totp_enrolled', 'lock', 'unlock')"
        )
    ).all()
    for sign_in_id, detail in rows:
        m = _BY.match(detail or "")
        if m:
            con.execute(
                sa.text("UPDATE sign_ins SET changed_by = :by WHERE sign_in_id = :id"),
                {"by": m.group(1), "id": sign_in_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("sign_ins") as batch:
        batch.drop_column("changed_by")
