"""The vectors history of its own: databases that recorded it the old way upgrade in place.

Before the vectors tables had an Alembic environment of their own, their revision (``v0001``)
was a second head in the core version table. Such a database must keep working with
``alembic upgrade head``, ``alembic -n vectors ...`` and ``sentinel-db migrate`` alike.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.test_alembic_cli import alembic, bare_env
from tests.vectors.conftest import create_database, libpq
from tests.vectors.helpers import store_raw_vector

CORE_TABLE = "sentinel_db.sentinel_db_alembic_version"
VECTORS_TABLE = "sentinel_db.sentinel_db_vectors_alembic_version"


@pytest.fixture
def old_style(vector_server: URL) -> URL:
    """A database at the core head with vectors applied and one vector stored, whose vectors
    revision sits in the core version table (as ``migrate --with vectors`` used to leave it)."""
    url = create_database(vector_server)
    engine = Database.from_url(url, load_settings(None)).engine
    migrations.upgrade(engine, with_vectors=True)
    with engine.begin() as conn:
        store_raw_vector(conn)
        conn.execute(text(f"DROP TABLE {VECTORS_TABLE}"))
        conn.execute(text(f"INSERT INTO {CORE_TABLE} (version_num) VALUES ('v0001')"))
    return url


def _versions(url: URL, table: str) -> list[str]:
    with Database.from_url(url, load_settings(None)).engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
            return []
        return sorted(
            str(v) for v in conn.execute(text(f"SELECT version_num FROM {table}")).scalars()
        )


def _vectors_stored(url: URL) -> int:
    with Database.from_url(url, load_settings(None)).engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM pci_dss_controls_embeddings")).scalar_one()
        )


def test_the_old_record_is_read_as_the_vectors_revision(old_style: URL) -> None:
    state = migrations.status(Database.from_url(old_style, load_settings(None)).engine)
    assert (state.heads, state.vectors, state.up_to_date) == ((migrations.head(),), "v0001", True)


def test_alembic_upgrade_head_moves_the_old_record_and_keeps_the_vectors(old_style: URL) -> None:
    env = bare_env(DATABASE_URL=libpq(old_style))
    up = alembic("upgrade", "head", env=env)
    assert up.returncode == 0, up.stderr
    assert _versions(old_style, CORE_TABLE) == [migrations.head()]
    assert _versions(old_style, VECTORS_TABLE) == ["v0001"]
    assert _vectors_stored(old_style) == 1
    assert alembic("check", env=env).returncode == 0
    vectors_up = alembic("-n", "vectors", "upgrade", "head", env=env)
    assert vectors_up.returncode == 0, vectors_up.stderr
    assert _vectors_stored(old_style) == 1


def test_migrate_with_vectors_on_an_old_record_changes_nothing_but_the_record(
    old_style: URL,
) -> None:
    engine = Database.from_url(old_style, load_settings(None)).engine
    after = migrations.upgrade(engine, with_vectors=True)
    assert (after.up_to_date, after.vectors) == (True, "v0001")
    assert _versions(old_style, CORE_TABLE) == [migrations.head()]
    assert _vectors_stored(old_style) == 1


def test_the_vectors_history_goes_to_base_and_back_on_its_own(old_style: URL) -> None:
    env = bare_env(DATABASE_URL=libpq(old_style))
    down = alembic("-n", "vectors", "downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert _versions(old_style, VECTORS_TABLE) == []  # the emptied version table is removed
    assert _versions(old_style, CORE_TABLE) == [migrations.head()]
    assert alembic("-n", "vectors", "upgrade", "head", env=env).returncode == 0
    assert _versions(old_style, VECTORS_TABLE) == ["v0001"]
