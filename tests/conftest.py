"""Test harness: one throwaway PostgreSQL database per test run, migrated for real.

Where the database comes from, in order: ``SENTINEL_TEST_DATABASE_URL`` (a server on which a
uniquely named database is created and dropped), a Docker engine (testcontainers'
``postgres:15``), or an embedded server in a temporary folder (the ``[embedded]`` extra).

Tests that need pgbouncer or the PCI DSS 3.2.1 data set (``SENTINEL_TEST_SHARED_DATA``) form
groups that are deselected when those are missing (see ``tests/groups.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from sentinel_db.config import load_settings
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.schema import migrations
from tests.groups import (
    SHARED_DATA_VARIABLE,
    group_named,
    pytest_collection_modifyitems,  # noqa: F401 (a hook: pytest finds it here)
    pytest_configure,  # noqa: F401 (a hook: pytest finds it here)
    pytest_itemcollected,  # noqa: F401 (a hook: pytest finds it here)
    pytest_terminal_summary,  # noqa: F401 (a hook: pytest finds it here)
    unavailable,
)
from tests.pooler import Pooler, run_pgbouncer

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The PCI DSS 3.2.1 data set (268 controls, 68 rules, 43 mappings), read-only."""
    group = group_named("shared-data")
    if group.problem() is not None:
        pytest.fail(unavailable(group), pytrace=False)
    return Path(os.environ[SHARED_DATA_VARIABLE])


def docker_available() -> bool:
    """True when a Docker engine answers (testcontainers can start servers)."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def _libpq_url(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[URL]:
    """An admin URL of a PostgreSQL server the tests may create databases on."""
    explicit = os.environ.get("SENTINEL_TEST_DATABASE_URL")
    if explicit:
        yield make_url(explicit).set(drivername="postgresql+psycopg")
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="psycopg") as pg:
            yield make_url(pg.get_connection_url())
        return
    try:
        import pgserver
    except ImportError:
        pytest.exit(
            "no PostgreSQL for the tests: set SENTINEL_TEST_DATABASE_URL=postgresql://USER@HOST/postgres, "
            "start Docker, or install the embedded server (pip install -e '.[dev]')",
            returncode=3,
        )
    folder = Path(tempfile.mkdtemp(prefix="sentinel-db-test-"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(server_url: URL) -> Iterator[URL]:
    """A uniquely named, freshly migrated database, dropped at the end of the run."""
    name = f"sentinel_test_{uuid.uuid4().hex[:12]}"
    admin = _libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.set(database=name)
    db = Database.from_url(url, load_settings(None))
    migrations.upgrade(db.engine)
    try:
        yield url
    finally:
        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


VIA_POOLER = os.environ.get("SENTINEL_TEST_VIA_POOLER", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pgbouncer(server_url: URL, database_url: URL) -> Iterator[Pooler]:
    """pgbouncer in transaction pooling mode in front of the test server, for this run."""
    assert database_url.database is not None
    group = group_named("pooler")
    if group.problem() is not None:
        pytest.fail(unavailable(group), pytrace=False)
    try:
        with run_pgbouncer(server_url, pinned_database=database_url.database) as pooler:
            yield pooler
    except RuntimeError as exc:
        pytest.fail(f"cannot start pgbouncer: {exc}")


@pytest.fixture(scope="session")
def pooler_url(pgbouncer: Pooler, database_url: URL) -> URL:
    """The test database through pgbouncer, marked ``?pgbouncer=true`` (as on Supabase)."""
    assert database_url.database is not None
    return pgbouncer.url(database_url.database)


@pytest.fixture(scope="session")
def app_url(request: pytest.FixtureRequest, database_url: URL) -> URL:
    """The URL the code under test uses: direct, or through pgbouncer when
    ``SENTINEL_TEST_VIA_POOLER=1``."""
    if VIA_POOLER:
        # Port 6543 marks it as a pooler, as on Supabase, and plain libpq accepts the URL.
        pooler: Pooler = request.getfixturevalue("pgbouncer")
        assert database_url.database is not None
        return pooler.url(database_url.database, marked=False)
    return database_url


@pytest.fixture(scope="session")
def database_url_str(app_url: URL) -> str:
    """The test database URL as a string (password included), for env vars and subprocesses."""
    return _libpq_url(app_url)


@pytest.fixture(scope="session")
def db(app_url: URL) -> Database:
    """The pooled test database (through pgbouncer when ``SENTINEL_TEST_VIA_POOLER=1``)."""
    return Database.from_url(app_url, load_settings(None))


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with db.engine.connect() as conn:
        outer = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()
            outer.rollback()


def truncate_all(db: Database) -> None:
    """Empty every sentinel-db table (for tests that commit for real)."""
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(sql_name(t) for t in ALL_TABLES)))


@pytest.fixture
def clean_db(db: Database) -> Iterator[Database]:
    """The test database, emptied before and after a test that commits."""
    truncate_all(db)
    yield db
    truncate_all(db)


@pytest.fixture
def fresh_database(server_url: URL) -> Iterator[URL]:
    """An extra empty, unmigrated database for schema life-cycle tests."""
    name = f"sentinel_test_{uuid.uuid4().hex[:12]}"
    admin = _libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.set(database=name)
    finally:
        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cli_env(
    database_url_str: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Environment for running the CLI against the test database, from an empty folder."""
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "SUPABASE_", "DB_", "SENTINEL_DB_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url_str)
    monkeypatch.chdir(tmp_path)
    from sentinel_db.config import get_settings

    get_settings.cache_clear()
    return dict(os.environ)


@pytest.fixture
def folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A fresh folder for each example of a property test (``tmp_path`` is one per test)."""
    return lambda: tmp_path_factory.mktemp("example")
