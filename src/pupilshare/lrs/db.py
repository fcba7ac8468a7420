"""The learner service's database: the home's governance URL (SQLite by default,
PostgreSQL in production), its own tables migrated by their own Alembic chain
(version table ``lrs_alembic_version``) on first open in a process.

SQLite runs in WAL mode with a busy timeout, so the service's threads write look-ups
one after another while pages keep reading.
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
VERSION_TABLE = "lrs_alembic_version"
_FACTORIES: dict[str, sessionmaker[Session]] = {}
_LOCK = threading.Lock()  # Alembic's context is process-global: one migration at once


def _sqlite_pragmas(dbapi_con: object, _record: object) -> None:
    cur = dbapi_con.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def factory(url: str) -> sessionmaker[Session]:
    found = _FACTORIES.get(url)
    if found is not None:
        return found
    with _LOCK:
        return _factory(url)


def _factory(url: str) -> sessionmaker[Session]:
    if url not in _FACTORIES:
        # governance's migrations first, never beside ours in another thread
        from pupilshare.governance import session_scope as governance_scope

        with governance_scope(url):
            pass
        if url.startswith("sqlite"):
            engine = sa.create_engine(
                url, pool_size=20, max_overflow=40, connect_args={"timeout": 10}
            )
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(url, pool_size=20, max_overflow=40)
        with engine.begin() as con:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = con
            command.upgrade(cfg, "head")
        _FACTORIES[url] = sessionmaker(engine, expire_on_commit=False)
    return _FACTORIES[url]


_ENSURED: set[str] = set()


def url_of(home_or_url: Home | str) -> str:
    """The home's database URL (its folders made once per process)."""
    if isinstance(home_or_url, Home):
        root = str(home_or_url.root)
        if root not in _ENSURED or not home_or_url.root.exists():
            home_or_url.ensure()
            _ENSURED.add(root)
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
    for key in [url] if url else list(_FACTORIES):
        f = _FACTORIES.pop(key, None)
        if f is not None:
            f.kw["bind"].dispose()
