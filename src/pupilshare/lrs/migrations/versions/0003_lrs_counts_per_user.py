"""The abuse watch's counts kept per user and summed per organisation: an index
on (organisation, period) for the sums. Rows counted per organisation before
(``username`` empty) stay and are summed with the users' rows.

Revision ID: lrs0003
Revises: lrs0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lrs0003"
down_revision = "lrs0002"
branch_labels = None
depends_on = None

INDEX = "lrs_watch_counts_org"


def upgrade() -> None:
    # lrs0001 made the models as they stood when it ran: a home made since has it
    have = {
        i["name"] for i in sa.inspect(op.get_bind()).get_indexes("lrs_watch_counts")
    }
    if INDEX not in have:
        op.create_index(INDEX, "lrs_watch_counts", ["org_id", "period"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="lrs_watch_counts")
