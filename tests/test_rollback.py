"""Rolling back one table removes that table only: every other table stays byte-identical (rows,
indexes, RLS, policies, grants, import history), every object of the schema that is not the
table's own (triggers, functions, the ``sentinel_db`` schema and its tables, grants) stays as it
was, commands name the missing table, and `migrate` brings the whole schema back exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.importers import ImportOptions, import_directory
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.runtime.db import Database
from sentinel_db.schema import lints, migrations
from sentinel_db.schema.migrations import VERSION_TABLE
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES
from tests.schema_dump import mentioning, schema_entries
from tests.supabase import conninfo, make_supabase_like

# Everything about one table that a rollback of another must leave alone.
_CATALOG = {
    "rows": "SELECT t::text FROM {name} t ORDER BY 1",
    "indexes": "SELECT indexdef FROM pg_indexes WHERE format('%I.%I', schemaname, tablename)"
    " = :qualified ORDER BY 1",
    "rls": "SELECT relrowsecurity, relforcerowsecurity, relacl::text FROM pg_class"
    " WHERE oid = CAST(:qualified AS regclass)",
    "policies": "SELECT policyname, permissive, roles::text, cmd, qual FROM pg_policies"
    " WHERE format('%I.%I', schemaname, tablename) = :qualified ORDER BY 1",
    # The same table and index files: nothing was rebuilt or recreated.
    "storage": "SELECT c.oid::bigint, c.relfilenode::bigint FROM pg_class c"
    " WHERE c.oid = CAST(:qualified AS regclass) OR c.oid IN (SELECT indexrelid FROM pg_index"
    " WHERE indrelid = CAST(:qualified AS regclass)) ORDER BY 1",
    "columns": "SELECT attname, format_type(atttypid, atttypmod), attgenerated FROM pg_attribute"
    " WHERE attrelid = CAST(:qualified AS regclass) AND attnum > 0 AND NOT attisdropped"
    " ORDER BY attnum",
}


def _snapshot(conn: Connection, qualified: str) -> dict[str, list[tuple[object, ...]]]:
    found = {}
    for key, query in _CATALOG.items():
        # ``qualified`` comes from to_regclass (the catalog), not from outside input.
        statement = text(query.replace("{name}", qualified))
        found[key] = [tuple(r) for r in conn.execute(statement, {"qualified": qualified})]
    return found


def _state(db: Database) -> dict[str, dict[str, list[tuple[object, ...]]] | None]:
    with db.engine.connect() as conn:
        where = migrations.locate_tables(conn)
        return {name: None if q is None else _snapshot(conn, q) for name, q in where.items()}


def _bookkeeping_rows(db: Database, table: str) -> dict[str, list[str]]:
    """Rows of every table in ``sentinel_db`` not about ``table`` (data versions, statistics)."""
    found: dict[str, list[str]] = {}
    with db.engine.connect() as conn:
        names = conn.execute(
            text(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
                " WHERE schemaname = 'sentinel_db' AND tablename NOT LIKE :own"
                # Which revisions are applied changes by design; migrate puts it back.
                " AND tablename NOT LIKE '%alembic_version' ORDER BY 1"
            ),
            {"own": f"{table}%"},
        ).scalars()
        for name in list(names):
            # ``name`` comes from the catalog; the rows that name the table are its own.
            rows = conn.execute(text(f"SELECT t::text FROM {name} t ORDER BY 1")).scalars()
            found[name] = [r for r in rows if table not in r]
    return found


def test_rolling_back_each_table_leaves_the_others_identical_and_migrate_restores_it(
    server_url: URL,
    fresh_database: URL,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_supabase_like(server_url, fresh_database)
    monkeypatch.setenv("DATABASE_URL", conninfo(fresh_database))
    monkeypatch.delenv("RLS_ANON_READ", raising=False)
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    for table in ALL_TABLES:
        import_directory(db, EXAMPLES, options=ImportOptions(force=True))
        _roll_back_and_restore(db, table, capsys)


def _roll_back_and_restore(db: Database, table: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = _state(db)
    others = {k: v for k, v in before.items() if k != table}
    schema = schema_entries(db.url)
    own = mentioning(schema, table)
    bookkeeping = _bookkeeping_rows(db, table)

    result = run_cli(capsys, "db", "rollback", table, "--yes")
    assert result.exit_code == 0, result.output
    assert f"{table}: " in result.stderr and "rows lost" in result.stderr
    after = _state(db)
    assert after[table] is None
    assert {k: v for k, v in after.items() if k != table} == others, table
    # Statement by statement: exactly the table's own objects are gone, nothing else changed.
    # (Alembic's version table follows the bookkeeping branch; `migrate` must put it back.)
    rolled_back = schema_entries(db.url)
    assert own and mentioning(rolled_back, table) == {}
    assert rolled_back - mentioning(rolled_back, VERSION_TABLE) == (
        schema - own - mentioning(schema, VERSION_TABLE)
    ), table
    assert _bookkeeping_rows(db, table) == bookkeeping, table

    stats = run_cli(capsys, "stats")
    assert stats.exit_code != 0 and "Traceback" not in stats.output
    assert table in stats.stderr and "sentinel-db migrate" in stats.stderr

    assert run_cli(capsys, "migrate").exit_code == 0
    assert schema_entries(db.url) == schema, table
    assert _bookkeeping_rows(db, table) == bookkeeping, table
    restored = _state(db)
    assert {k: v for k, v in restored.items() if k != table} == others, table
    back, was = restored[table], before[table]
    assert back is not None and was is not None and back["rows"] == []
    assert {k: v for k, v in back.items() if k not in ("rows", "storage")} == {
        k: v for k, v in was.items() if k not in ("rows", "storage")
    }
    assert migrations.status(db.engine).up_to_date and migrations.drift(db.engine) == []
    with db.engine.connect() as conn:
        assert lints.lint(conn) == []


def test_rollback_to_a_revision_still_downgrades_the_whole_schema(fresh_database: URL) -> None:
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    migrations.downgrade(db.engine, "base")
    assert not any(migrations.existing_tables(db.engine).values())
    assert migrations.status(db.engine).heads == ()


def test_rolling_back_two_tables_at_once_removes_both_and_nothing_else(
    fresh_database: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", conninfo(fresh_database))
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    result = run_cli(
        capsys, "db", "rollback", "pci_dss_controls", "pci_aws_config_rule_mappings", "--yes"
    )
    assert result.exit_code == 0, result.output
    assert migrations.existing_tables(db.engine) == {
        "pci_dss_controls": False,
        "aws_config_rules_guidance": True,
        "pci_aws_config_rule_mappings": False,
        "import_runs": True,
    }
    again = run_cli(capsys, "db", "rollback", "pci_dss_controls", "--yes")
    assert again.exit_code == 0 and "nothing to roll back" in again.stderr
    assert migrations.upgrade(db.engine).up_to_date
