"""Governance fixtures shared by the integration tests: the seeds made live once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pupilshare.governance import db, seeds

Seeder = Callable[[], tuple[Session, Any]]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The seeds made live once per module in SQLite; each SQLite test starts from a
    copy (PostgreSQL tests seed their own schema)."""
    path = tmp_path_factory.mktemp("gov") / "seeded.sqlite"
    url = f"sqlite:///{path}"
    with db.factory(url)() as s:
        out = seeds.load_all(s)
    db.dispose(url)
    return path, out


@pytest.fixture
def seed(db_url: str, template: tuple[Path, Any]) -> Seeder:
    """Open a session on a governance database holding the live seeds."""

    def make() -> tuple[Session, Any]:
        if db_url.startswith("sqlite:///"):
            shutil.copyfile(template[0], db_url.removeprefix("sqlite:///"))
            return db.factory(db_url)(), template[1]
        s = db.factory(db_url)()
        return s, seeds.load_all(s)

    return make
