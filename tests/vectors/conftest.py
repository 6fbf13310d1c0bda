"""A throwaway embedded PostgreSQL (it has pgvector) for the vector tests, one per test session.

The main test server may lack pgvector (the PostgreSQL 15 in CI does), so these tests start their
own embedded server in a temporary folder, migrate a database with ``--with vectors``, and delete
it all at the end. Tests that commit use ``vector_db`` (emptied around each test); the others use
``session`` (rolled back), which the ``db`` override below points at this server.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from sentinel_db.config import load_settings
from sentinel_db.records.embeddings import EMBEDDING_TABLES
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.schema import migrations


@pytest.fixture(scope="session")
def vector_server() -> Iterator[URL]:
    """Admin URL of an embedded PostgreSQL with pgvector, for this test session."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="sentinel-db-vectors-"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    finally:
        dispose_engines()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def libpq(url: URL) -> str:
    """``url`` as a libpq connection string (password included)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server: URL) -> URL:
    """A new, empty database on ``server``."""
    name = f"sentinel_vec_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name)


@pytest.fixture(scope="session")
def vector_url(vector_server: URL) -> URL:
    """A database migrated with the vectors branch."""
    url = create_database(vector_server)
    migrations.upgrade(Database.from_url(url, load_settings(None)).engine, with_vectors=True)
    return url


@pytest.fixture(scope="session")
def vector_database(vector_url: URL) -> Database:
    """The pooled vectors database."""
    return Database.from_url(vector_url, load_settings(None))


def truncate(db: Database) -> None:
    """Empty every table, embeddings included."""
    with db.engine.begin() as conn:
        names = (*EMBEDDING_TABLES, *(sql_name(t) for t in ALL_TABLES))
        conn.execute(text("TRUNCATE " + ", ".join(names)))


@pytest.fixture
def vector_db(vector_database: Database) -> Iterator[Database]:
    """The vectors database, emptied before and after a test that commits."""
    truncate(vector_database)
    yield vector_database
    truncate(vector_database)


@pytest.fixture(scope="session")
def db(vector_database: Database) -> Database:
    """Here ``db`` is the vectors database, so the main conftest's rolled-back ``session``
    fixture works on it."""
    return vector_database
