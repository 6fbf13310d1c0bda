"""Access as a fresh migration sets it up on a Supabase-like database: anon read when asked for,
and the bookkeeping schema closed to API roles even if one was granted it before."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import get_settings, load_settings
from sentinel_db.records.models import REFERENCE_TABLES
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from sentinel_db.schema.access import ANON_POLICY
from tests.supabase import conninfo, make_supabase_like

_ANON = (
    "SELECT c.relname, has_table_privilege('anon', c.oid, 'SELECT'),"
    " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = :policy)"
    " FROM pg_class c WHERE c.relname = ANY (CAST(:tables AS text[])) ORDER BY 1"
)


def _anon_access(engine_url: URL) -> list[tuple[object, ...]]:
    engine = Database.from_url(engine_url, load_settings(None)).engine
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(_ANON), {"policy": ANON_POLICY, "tables": list(REFERENCE_TABLES)}
            )
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def _upgrade(url: URL, revision: str = "head", *, anon_read: bool) -> None:
    engine = Database.from_url(url, load_settings(None)).engine
    try:
        migrations.upgrade(engine, revision, rls_anon_read=anon_read)
    finally:
        engine.dispose()


def test_a_fresh_migration_with_anon_read_opens_every_reference_table_to_anon(
    server_url: URL, fresh_database: URL
) -> None:
    make_supabase_like(server_url, fresh_database)
    _upgrade(fresh_database, anon_read=True)
    assert _anon_access(fresh_database) == [(t, True, True) for t in sorted(REFERENCE_TABLES)]


def test_a_fresh_migration_without_anon_read_keeps_anon_out(
    server_url: URL, fresh_database: URL
) -> None:
    make_supabase_like(server_url, fresh_database)
    with psycopg.connect(conninfo(fresh_database), autocommit=True) as conn:
        # Granted before sentinel-db arrives: the bookkeeping schema must still end up closed.
        conn.execute("CREATE SCHEMA sentinel_db")
        conn.execute("GRANT USAGE, CREATE ON SCHEMA sentinel_db TO anon, authenticated")
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    try:
        migrations.upgrade(engine, rls_anon_read=False)
        with engine.connect() as conn:
            open_to = conn.execute(
                text(
                    "SELECT r FROM unnest(ARRAY['anon', 'authenticated', 'service_role']) r"
                    " WHERE has_schema_privilege(r, 'sentinel_db', 'USAGE')"
                    " OR has_schema_privilege(r, 'sentinel_db', 'CREATE')"
                )
            ).scalars()
            assert list(open_to) == []
    finally:
        engine.dispose()
    assert _anon_access(fresh_database) == [(t, False, False) for t in sorted(REFERENCE_TABLES)]


def test_upgrading_an_older_database_with_anon_read_turns_it_on_for_its_tables(
    server_url: URL, fresh_database: URL
) -> None:
    make_supabase_like(server_url, fresh_database)
    # Before the privilege revisions, anon read off; then the rest with it on.
    _upgrade(fresh_database, "0007", anon_read=False)
    assert not any(policy for _, _, policy in _anon_access(fresh_database))
    _upgrade(fresh_database, anon_read=True)
    assert _anon_access(fresh_database) == [(t, True, True) for t in sorted(REFERENCE_TABLES)]


def test_settings_that_cannot_be_read_at_migrate_time_mean_no_anon_read(
    server_url: URL, fresh_database: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_supabase_like(server_url, fresh_database)
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    monkeypatch.setenv("RLS_ANON_READ", "true")
    monkeypatch.setenv("DB_POOL_SIZE", "0")  # invalid: the settings cannot be read
    get_settings.cache_clear()
    try:
        migrations.upgrade(engine)  # no explicit choice: the revisions read the settings
    finally:
        engine.dispose()
        monkeypatch.undo()
        get_settings.cache_clear()
    assert not any(policy for _, _, policy in _anon_access(fresh_database))
