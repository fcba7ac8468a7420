"""Alembic environment of the learner service's tables: runs on the connection
pupilshare hands it, keeping its version apart from governance's."""

from __future__ import annotations

from alembic import context

from pupilshare.lrs.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table="lrs_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
