"""The cache on a database that was never migrated: a clear error naming what to do."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import MigrationError
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
