"""The governance database: an engine from the home's URL, migrated on open.

Alembic migrations ship as package data under ``migrations/`` and run
programmatically, so every home (SQLite) and every deployment (PostgreSQL) is at the
current schema before any record is read. Engines are cached per URL in a process:
migrating once is enough.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

from pupilshare.config import Home

MIGRATIONS = Path(__file__).with_name("migrations")
_FACTORIES: dict[str, sessionmaker[Session]] = {}
# Alembic's context is process-global: two threads migrating at once (a service's
# first concurrent requests) break each other, so one migrates at a time
_LOCK = threading.RLock()


def alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: sa.Engine) -> None:
    """Bring the database to the newest migration."""
    with engine.begin() as con:
        command.upgrade(alembic_config(con), "head")


def factory(url: str) -> sessionmaker[Session]:
    """A session factory for ``url``, its database migrated to head."""
    found = _FACTORIES.get(url)
    if found is not None:
        return found
    with _LOCK:
        return _factory(url)


def _factory(url: str) -> sessionmaker[Session]:
    if url not in _FACTORIES:
        engine = sa.create_engine(url)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_foreign_keys)
        migrate(engine)
        _FACTORIES[url] = sessionmaker(engine, expire_on_commit=False)
    return _FACTORIES[url]


def _sqlite_foreign_keys(dbapi_con: object, _record: object) -> None:
    cur = dbapi_con.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def url_of(home_or_url: Home | str) -> str:
    """The database URL of a home (creating the home, where SQLite will live)."""
    if isinstance(home_or_url, Home):
        home_or_url.ensure()
        return home_or_url.db_url
    return home_or_url


@contextmanager
def session_scope(home_or_url: Home | str) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on error."""
    with factory(url_of(home_or_url))() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose(url: str | None = None) -> None:
    """Forget cached engines (tests, and a process that switches homes)."""
    for key in [url] if url else list(_FACTORIES):
        f = _FACTORIES.pop(key, None)
        if f is not None:
            f.kw["bind"].dispose()
