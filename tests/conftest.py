"""Shared fixtures: a fresh data home per test, governance databases on both
SQLite and PostgreSQL, and one Spark session (local mode) for every test marked
``spark``: skipped without a Java runtime, except when ``PUPILSHARE_REQUIRE_SPARK``
is set (as in CI).

PostgreSQL tests use ``PUPILSHARE_TEST_PG`` (CI sets it to the local server) and get a
schema of their own, dropped afterwards. Without it they are skipped, except when
``PUPILSHARE_REQUIRE_PG`` is set (as in CI), where a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from pupilshare.config import Home

# Eight of us share two cores: a property's timing says nothing about its truth.
settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")

PG_URL = os.environ.get("PUPILSHARE_TEST_PG")


@pytest.fixture(autouse=True)
def _plans_of_the_test(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests marked ``own_plan`` build releases from plans of their own, with no
    agreement behind them (the release area's rules, not governance's): the output
    check's question to governance is answered yes for them. Every other test,
    and every release through the runner, gets governance's real answer."""
    if request.node.get_closest_marker("own_plan") is None:
        return
    from pupilshare.release import check

    monkeypatch.setattr(check, "governance_reasons", lambda home, plan: [])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.delenv("PUPILSHARE_DB_URL", raising=False)
    monkeypatch.delenv("PUPILSHARE_USER", raising=False)
    monkeypatch.setenv("PUPILSHARE_HOME", str(tmp_path / "home"))
    return Home.resolve(tmp_path / "home").ensure()


def _pg_schema_url() -> Iterator[str]:
    if not PG_URL:
        if os.environ.get("PUPILSHARE_REQUIRE_PG"):
            pytest.fail("PUPILSHARE_REQUIRE_PG is set but PUPILSHARE_TEST_PG is not")
        pytest.skip("PostgreSQL not configured (set PUPILSHARE_TEST_PG)")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as con:
        con.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, home: Home, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A governance database URL: SQLite in the home, or a fresh PostgreSQL schema.

    The URL is also put in ``PUPILSHARE_DB_URL`` so commands run in the test use it.
    """
    if request.param == "sqlite":
        url = home.db_url
        monkeypatch.setenv("PUPILSHARE_DB_URL", url)
        yield url
        return
    for url in _pg_schema_url():
        monkeypatch.setenv("PUPILSHARE_DB_URL", url)
        yield url


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's cheapest parameters in tests: a real hash costs 0.2 s, and the seeds
    alone hash twenty passwords. ``tests/unit/test_identity_parts.py`` checks the real
    parameters."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from pupilshare.identity import passwords

    monkeypatch.setattr(passwords, "HASHER", PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One small whole-nation demo per test session (read it, never write it: copy
    it with ``copy_home`` first). Shared by the acceptance and the web tests."""
    from rich.console import Console

    from pupilshare.demo import DemoRun, run_demo

    home = Home.resolve(tmp_path_factory.mktemp("demo") / "home")
    run = DemoRun(home, pupils=1500, seed=11, console=Console(quiet=True))
    run_demo(run)
    return run


def copy_home(src: Home, dest: Path) -> Home:
    """A writable copy of a data home (release records keep pointing at the
    source's delivered files, which the copy may read)."""
    import shutil

    shutil.copytree(src.root, dest, symlinks=True)
    return Home.resolve(dest)


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """The process's Spark session, started once for the whole run (a second costs
    seconds) and stopped at its end."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("PUPILSHARE_REQUIRE_SPARK"):
            pytest.fail("PUPILSHARE_REQUIRE_SPARK is set but no Java runtime is found")
        pytest.skip("no Java runtime: Spark cannot start")
    os.environ.setdefault("PUPILSHARE_SPARK_PARTITIONS", "2")
    os.environ.setdefault("PUPILSHARE_SPARK_MEMORY", "768m")
    from pupilshare.engine import session

    yield session.session()
    session.stop()
