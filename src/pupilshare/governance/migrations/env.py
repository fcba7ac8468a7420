"""Alembic environment: runs on the connection pupilshare hands it (never a URL from
an ini file), so the same migrations serve SQLite homes and PostgreSQL."""

from __future__ import annotations

from alembic import context

from pupilshare.governance.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
