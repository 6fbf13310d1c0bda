"""The cache's answers that are errors: no data versions to read, and a key that is not there."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy.engine import URL

from sentinel_db import PciControlRepository
from sentinel_db.config import load_settings
from sentinel_db.errors import DatabaseError, MigrationError, NotFoundError
from sentinel_db.runtime.cache import of_session
from sentinel_db.runtime.db import Database


def test_a_cached_read_without_data_versions_says_to_migrate_or_turn_the_cache_off(
    fresh_database: URL,
) -> None:
    db = Database.from_url(fresh_database, load_settings(None), cache=True)
    try:
        with db.unit_of_work(read_only=True) as session:
            view = of_session(session)
            assert view is not None
            with pytest.raises(MigrationError) as caught:
                view.versions()
    finally:
        db.engine.dispose()
    assert caught.value.message == (
        "the repository cache needs sentinel_db.data_versions, which is missing"
    )
    assert caught.value.hint == "run `sentinel-db migrate`, or turn the cache off (DB_CACHE=false)"
    assert getattr(caught.value.__cause__, "orig", None) is not None  # the driver's error kept


def test_a_missing_key_served_from_the_cache_keeps_its_message_and_hint(
    clean_db: Database, app_url: URL
) -> None:
    db = Database.from_url(app_url, load_settings(None), cache=True)
    seen = []
    for _ in range(2):
        with db.unit_of_work(read_only=True) as session:
            with pytest.raises(NotFoundError) as caught:
                PciControlRepository(session).get_by_key("0.0")
            seen.append((caught.value.message, caught.value.hint))
    assert db.cache is not None and db.cache.figures().hits == 1  # the second came from memory
    assert seen[0] == seen[1]


def test_a_role_that_cannot_read_the_data_versions_gets_the_servers_reason(
    database_url: URL,
) -> None:
    role = f"sentinel_no_access_{uuid.uuid4().hex[:8]}"
    admin = database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    db = Database.from_url(database_url.set(username=role), load_settings(None), cache=True)
    try:
        with db.unit_of_work(read_only=True) as session:
            view = of_session(session)
            assert view is not None
            with pytest.raises(DatabaseError) as caught:
                view.versions()
    finally:
        db.engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP ROLE "{role}"')
    assert not isinstance(caught.value, MigrationError)
    assert caught.value.message.startswith("check data versions: ")
    assert "permission denied" in caught.value.message
