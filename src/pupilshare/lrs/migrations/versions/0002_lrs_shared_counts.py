"""The abuse watch's counts shared by every process (lrs_watch_counts, filled from
the look-ups already recorded), and the clerk's decision on a correction request.

Revision ID: lrs0002
Revises: lrs0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lrs0002"
down_revision = "lrs0001"
branch_labels = None
depends_on = None

DECISION = (
    ("old_value", sa.String(length=200)),
    ("note", sa.Text()),
    ("decided_by", sa.String(length=64)),
    ("decided_at", sa.DateTime()),
)


def _backfill_sql(dialect: str) -> list[str]:
    """Each organisation's look-ups a day and a month, from ``lrs_lookups``."""
    if dialect == "sqlite":
        day, month = "'d' || strftime('%Y-%m-%d', at)", "'m' || strftime('%Y-%m', at)"
    else:
        day, month = "'d' || to_char(at, 'YYYY-MM-DD')", "'m' || to_char(at, 'YYYY-MM')"
    nm = "CASE WHEN action = 'details' AND outcome = 'no_match' THEN 1 ELSE 0 END"
    un = "CASE WHEN outcome = 'unregistered' THEN 1 ELSE 0 END"
    return [
        f"""INSERT INTO lrs_watch_counts
            (org_id, username, period, n, no_match, unregistered, last_at)
            SELECT org_id, '', {p}, count(*), {sums}, max(at)
            FROM lrs_lookups GROUP BY org_id, {p}"""
        for p, sums in (
            (day, f"sum({nm}), sum({un})"),
            (month, "0, 0"),
        )
    ] + [
        """INSERT INTO lrs_watch_counts
            (org_id, username, period, n, no_match, unregistered, last_at)
            SELECT org_id, username, 'last', count(*), 0, 0, max(at)
            FROM lrs_lookups GROUP BY org_id, username"""
    ]


def upgrade() -> None:
    # lrs0001 made the models as they stood when it ran: a home made since has these
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table("lrs_watch_counts"):
        op.create_table(
            "lrs_watch_counts",
            sa.Column("org_id", sa.String(length=64), nullable=False),
            sa.Column("username", sa.String(length=64), nullable=False),
            sa.Column("period", sa.String(length=20), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("no_match", sa.Integer(), nullable=False),
            sa.Column("unregistered", sa.Integer(), nullable=False),
            sa.Column("last_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("org_id", "username", "period"),
        )
        for sql in _backfill_sql(bind.dialect.name):
            op.execute(sql)
    have = {c["name"] for c in inspector.get_columns("lrs_corrections")}
    for name, kind in DECISION:
        if name not in have:
            with op.batch_alter_table("lrs_corrections") as batch:
                batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lrs_corrections") as batch:
        for name, _ in DECISION:
            batch.drop_column(name)
    op.drop_table("lrs_watch_counts")
