"""Alembic environment: sentinel-db's settings, its metadata and filters, and a migration lock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from alembic import context
from sentinel_db.records.models import Base
from sentinel_db.runtime.engine import engine_for_alembic
from sentinel_db.schema.migrations import (
    MIGRATION_LOCK_KEY,
    SEARCH_PATH_SQL,
    VERSION_TABLE,
    include_name,
    include_object,
    url_for_alembic,
)

config = context.config
target_metadata = Base.metadata

_options: dict[str, Any] = {
    "target_metadata": target_metadata,
    "version_table": VERSION_TABLE,
    "compare_type": True,
    "compare_server_default": False,
    "include_schemas": True,
    "include_name": include_name,
    "include_object": include_object,
}


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options)
    with context.begin_transaction():
        # Held until this transaction ends, so two concurrent `migrate` runs queue, not collide.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        # The version table may live in the bookkeeping schema (or move there during this run).
        connection.execute(text(SEARCH_PATH_SQL.format(local="true")))
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for the requested revisions without connecting."""
    url = config.attributes.get("url") or url_for_alembic()
    context.configure(url=url, literal_binds=True, **_options)
    with context.begin_transaction():
        context.execute(SEARCH_PATH_SQL.format(local="false"))
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over the caller's connection, or one opened from the settings."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_for_alembic()
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
