"""The data versions behind the cache, as the migrations build them: one per reference table,
advanced once by each committed write and only at commit, kept by a rollback of one table, and
gone with the last table that used them."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.records.models import REFERENCE_TABLES
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from sentinel_db.schema.rollback import plan_rollback, run_rollback

_VERSIONS = "SELECT table_name, version FROM sentinel_db.data_versions"
_TRIGGERS = (
    "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = 'sentinel_db_data_version'"
)
_SHARED = (
    "SELECT to_regclass('sentinel_db.data_versions') IS NOT NULL,"
    " to_regclass('sentinel_db.data_version_marks') IS NOT NULL,"
    " to_regprocedure('sentinel_db.mark_data_version()') IS NOT NULL,"
    " to_regprocedure('sentinel_db.bump_data_version()') IS NOT NULL"
)
_INSERT = (
    "INSERT INTO pci_dss_controls (control_id, requirement, chunk, metadata)"
    " VALUES (:key, 'R', 'text', '{}')"
)


def _one(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _versions(engine: Engine) -> dict[str, int]:
    return {str(t): int(str(v)) for t, v in _one(engine, _VERSIONS)}


def test_each_reference_table_gets_a_version_a_trigger_and_private_shared_objects(
    fresh_database: URL,
) -> None:
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    started = time.time() * 1_000_000
    migrations.upgrade(engine)
    versions = _versions(engine)
    assert set(versions) == set(REFERENCE_TABLES)
    # A first version is the time in microseconds, so a table made again never repeats one.
    assert all(started - 60e6 < v < time.time() * 1_000_000 + 1 for v in versions.values())
    assert sorted(str(r[0]) for r in _one(engine, _TRIGGERS)) == sorted(REFERENCE_TABLES)
    assert _one(engine, _SHARED) == [(True, True, True, True)]
    schemas = _one(
        engine,
        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
        " AND nspname <> 'information_schema' ORDER BY 1",
    )
    assert schemas == [("public",), ("sentinel_db",)]
    deferred = _one(
        engine,
        "SELECT tgdeferrable, tginitdeferred FROM pg_trigger"
        " WHERE tgname = 'sentinel_db_bump_at_commit'"
        " AND tgrelid = 'sentinel_db.data_version_marks'::regclass",
    )
    assert deferred == [(True, True)]
    functions = _one(
        engine,
        "SELECT p.proname, p.prosecdef, p.proconfig::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'sentinel_db' AND p.proname LIKE '%data_version' ORDER BY 1",
    )
    assert functions == [
        ("bump_data_version", False, '{"search_path=pg_catalog, pg_temp"}'),
        ("mark_data_version", False, '{"search_path=pg_catalog, pg_temp"}'),
    ]
    for table in ("sentinel_db.data_versions", "sentinel_db.data_version_marks"):
        assert _one(engine, f"SELECT has_table_privilege('public', '{table}', 'SELECT')") == [
            (False,)
        ]
    engine.dispose()


def test_a_write_advances_its_table_once_at_commit_and_a_rollback_keeps_the_rest(
    fresh_database: URL,
) -> None:
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    migrations.upgrade(engine)
    before = _versions(engine)
    with engine.begin() as conn:
        conn.execute(text(_INSERT), {"key": "1.1"})
        conn.execute(text(_INSERT), {"key": "1.2"})
        # Not yet: the mark waits for the commit, the version is untouched.
        marks = conn.execute(text("SELECT table_name FROM sentinel_db.data_version_marks"))
        assert [r[0] for r in marks] == ["pci_dss_controls"]
        assert dict(conn.execute(text(_VERSIONS)).all()) == before
    after = _versions(engine)
    assert after == {**before, "pci_dss_controls": before["pci_dss_controls"] + 1}
    assert _one(engine, "SELECT count(*) FROM sentinel_db.data_version_marks") == [(0,)]
    with engine.connect() as conn, conn.begin() as transaction:
        conn.execute(text(_INSERT), {"key": "1.3"})
        transaction.rollback()
    assert _versions(engine) == after

    run_rollback(engine, plan_rollback(engine, tables=["pci_dss_controls"]))
    # The table's trigger went with it; its version moved on (numbers only grow: a cache must not
    # serve the old rows for the empty table `migrate` brings back); the rest are untouched.
    rolled = _versions(engine)
    assert rolled == {**after, "pci_dss_controls": after["pci_dss_controls"] + 1}
    assert sorted(str(r[0]) for r in _one(engine, _TRIGGERS)) == sorted(
        t for t in REFERENCE_TABLES if t != "pci_dss_controls"
    )
    assert _one(engine, _SHARED) == [(True, True, True, True)]

    others = [t for t in REFERENCE_TABLES if t != "pci_dss_controls"]
    run_rollback(engine, plan_rollback(engine, tables=others))
    # The last user gone, the shared objects go too.
    assert _one(engine, _SHARED) == [(False, False, False, False)]

    migrations.upgrade(engine)
    again = _versions(engine)
    assert set(again) == set(REFERENCE_TABLES)
    assert all(again[t] > after[t] for t in REFERENCE_TABLES)  # never an old number again
    engine.dispose()
