"""Row-level security as Supabase's roles see it, proven with SET ROLE on a real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL

from alembic import command
from sentinel_db.config import get_settings, load_settings
from sentinel_db.records.models import ALL_TABLES, REFERENCE_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations, security
from tests.cli_helpers import run_cli
from tests.supabase import create_roles

# Every privilege, even on bookkeeping, as if someone had granted them after `migrate`: so that
# row-level security (not missing privileges, see test_supabase.py) is what is tested here.
_SUPABASE_GRANTS = (
    "GRANT USAGE ON SCHEMA public, sentinel_db TO anon, authenticated, service_role",
    "GRANT ALL ON ALL TABLES IN SCHEMA public, sentinel_db TO anon, authenticated, service_role",
)
_INSERTS = {
    "pci_dss_controls": (
        "INSERT INTO pci_dss_controls (control_id, chunk, metadata) VALUES (%s, 'c', '{}')"
    ),
    "aws_config_rules_guidance": (
        "INSERT INTO aws_config_rules_guidance (config_rule, chunk, metadata) VALUES (%s, 'c', '{}')"
    ),
    "pci_aws_config_rule_mappings": (
        "INSERT INTO pci_aws_config_rule_mappings (control_id, config_rules) VALUES (%s, '[]')"
    ),
    "import_runs": (
        "INSERT INTO sentinel_db.import_runs (run_id, table_name, source_path, status,"
        " sentinel_version)"
        " VALUES (gen_random_uuid(), 'pci_dss_controls', %s, 'ok', 'test')"
    ),
}


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def supabase_roles(server_url: URL, db: Database) -> None:
    """Supabase's roles on the test server; the session database gets the policies they need."""
    create_roles(server_url)
    # The session database may have been migrated before the roles existed.
    security.apply_policies(db, anon_read=False)


@pytest.fixture
def as_postgres(supabase_roles: None, database_url: URL) -> Iterator[psycopg.Connection]:
    """A superuser connection in a transaction (rolled back), with Supabase's grants and a
    row in every table."""
    with psycopg.connect(_conninfo(database_url)) as conn:
        for grant in _SUPABASE_GRANTS:
            conn.execute(grant)
        for table in ALL_TABLES:
            conn.execute(_INSERTS[table], (f"rls-{uuid.uuid4().hex[:8]}",))
        yield conn
        conn.rollback()


def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*sql_name(table).split("."))


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()
    assert row is not None
    return int(row[0])


def _set_role(conn: psycopg.Connection, role: str) -> None:
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def _insert_is_refused(conn: psycopg.Connection, table: str) -> None:
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security")
    with refused, conn.transaction():
        conn.execute(_INSERTS[table], (f"rls-{uuid.uuid4().hex[:8]}",))


def _update_and_delete_touch_nothing(conn: psycopg.Connection, table: str) -> None:
    # Without a policy the rows are invisible to UPDATE and DELETE: no error, nothing changes.
    ident = _ident(table)
    assert conn.execute(sql.SQL("UPDATE {} SET id = id").format(ident)).rowcount == 0
    assert conn.execute(sql.SQL("DELETE FROM {}").format(ident)).rowcount == 0


def test_anon_reads_nothing_and_cannot_write(as_postgres: psycopg.Connection) -> None:
    _set_role(as_postgres, "anon")
    for table in ALL_TABLES:
        assert _count(as_postgres, table) == 0, table
        _insert_is_refused(as_postgres, table)
        _update_and_delete_touch_nothing(as_postgres, table)
    as_postgres.execute("RESET ROLE")
    assert all(_count(as_postgres, table) >= 1 for table in ALL_TABLES)


def test_authenticated_reads_reference_tables_and_cannot_write(
    as_postgres: psycopg.Connection,
) -> None:
    before = {table: _count(as_postgres, table) for table in REFERENCE_TABLES}
    _set_role(as_postgres, "authenticated")
    for table in REFERENCE_TABLES:
        assert _count(as_postgres, table) == before[table] >= 1, table
        _insert_is_refused(as_postgres, table)
        _update_and_delete_touch_nothing(as_postgres, table)
    as_postgres.execute("RESET ROLE")
    assert {table: _count(as_postgres, table) for table in REFERENCE_TABLES} == before


def test_import_runs_are_hidden_from_anon_and_authenticated(
    as_postgres: psycopg.Connection,
) -> None:
    for role in ("anon", "authenticated"):
        _set_role(as_postgres, role)
        assert _count(as_postgres, "import_runs") == 0, role
        _insert_is_refused(as_postgres, "import_runs")
        as_postgres.execute("RESET ROLE")


def _migrated(url: URL) -> Database:
    db = Database.from_url(url, load_settings(None))
    migrations.upgrade(db.engine)
    return db


def test_rls_anon_read_setting_at_migrate_time_lets_anon_read_reference_tables(
    supabase_roles: None, fresh_database: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLS_ANON_READ", "true")
    get_settings.cache_clear()
    try:
        _migrated(fresh_database)
    finally:
        monkeypatch.delenv("RLS_ANON_READ")
        get_settings.cache_clear()
    with psycopg.connect(_conninfo(fresh_database)) as conn:
        for grant in _SUPABASE_GRANTS:
            conn.execute(grant)
        for table in ALL_TABLES:
            conn.execute(_INSERTS[table], ("anon-read",))
        _set_role(conn, "anon")
        assert all(_count(conn, table) == 1 for table in REFERENCE_TABLES)
        assert _count(conn, "import_runs") == 0
        _insert_is_refused(conn, "pci_dss_controls")
        conn.rollback()


def test_migration_without_supabase_roles_enables_rls_and_creates_no_policy(
    supabase_roles: None, fresh_database: URL
) -> None:
    """Plain PostgreSQL: the roles are renamed away inside one transaction that is rolled back,
    so the revision runs exactly as on a server that never had them."""
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    hidden = f"_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        outer = conn.begin()
        for role in ("anon", "authenticated"):
            conn.exec_driver_sql(f"ALTER ROLE {role} RENAME TO {role}{hidden}")
        command.upgrade(migrations.make_config(connection=conn), migrations.head())
        state = security.inspect_security(conn)
        outer.rollback()
    assert [t.name for t in state.tables] == list(ALL_TABLES)
    assert all(t.rls_enabled and not t.policies for t in state.tables)
    assert state.missing_policies() == []


def test_rolling_back_a_branch_removes_its_policies_and_rls_only(
    supabase_roles: None, fresh_database: URL
) -> None:
    db = _migrated(fresh_database)
    migrations.downgrade_branch(db.engine, "pci_dss_controls@0005c")  # just below its RLS
    state = {t.name: t for t in security.security_state(db).tables}
    assert not state["pci_dss_controls"].rls_enabled and not state["pci_dss_controls"].policies
    assert all(t.rls_enabled for name, t in state.items() if name != "pci_dss_controls")
    assert state["aws_config_rules_guidance"].policies
    migrations.upgrade(db.engine)
    state_after = security.security_state(db)
    assert all(t.rls_enabled for t in state_after.tables)
    assert state_after.missing_policies() == []


def test_auth_check_shows_rls_per_table(
    supabase_roles: None, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "auth", "check")
    assert result.exit_code == 0, result.output
    for table in ALL_TABLES:
        assert f"rls:       {table}: on" in result.stdout
    assert "sentinel_db_authenticated_read" in result.stdout


def test_auth_check_warns_about_a_table_without_rls(
    supabase_roles: None,
    fresh_database: URL,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = _migrated(fresh_database)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE sentinel_db.import_runs DISABLE ROW LEVEL SECURITY")
    monkeypatch.setenv("DATABASE_URL", _conninfo(fresh_database))
    result = run_cli(capsys, "auth", "check")
    assert result.exit_code == 1
    assert "row-level security is off on sentinel_db.import_runs" in result.stderr
    assert "rls:       import_runs: OFF" in result.stdout
    checked = run_cli(capsys, "db", "check")
    assert checked.exit_code == 5 and "import_runs" in checked.stderr
    assert "Traceback" not in result.output + checked.output


def test_missing_policies_are_reported_and_auth_policies_restores_them(
    supabase_roles: None,
    fresh_database: URL,
    monkeypatch: pytest.MonkeyPatch,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = _migrated(fresh_database)
    with db.engine.begin() as conn:  # as if the roles had appeared after `migrate`
        for table in REFERENCE_TABLES:
            conn.exec_driver_sql(f"DROP POLICY {security.AUTHENTICATED_POLICY} ON {table}")
    monkeypatch.setenv("DATABASE_URL", _conninfo(fresh_database))
    checked = run_cli(capsys, "auth", "check")
    assert checked.exit_code == 1
    assert "policies are missing" in checked.stderr
    assert "sentinel-db auth policies" in checked.stderr
    validated = run_cli(capsys, "migrate", "--validate")
    assert validated.exit_code == 5 and "policies are missing" in validated.stderr

    applied = run_cli(capsys, "auth", "policies", "--anon-read")
    assert applied.exit_code == 0, applied.output
    state = security.security_state(db)
    assert state.missing_policies() == []
    assert all(
        {p.name for p in t.policies} == {security.AUTHENTICATED_POLICY, security.ANON_POLICY}
        for t in state.tables
        if t.name in REFERENCE_TABLES
    )
    assert run_cli(capsys, "auth", "policies").exit_code == 0  # RLS_ANON_READ unset: anon off
    state = security.security_state(db)
    assert all(security.ANON_POLICY not in {p.name for p in t.policies} for t in state.tables)
    assert run_cli(capsys, "auth", "check").exit_code == 0


def test_migrate_reads_rls_anon_read_from_the_config_file_it_is_given(
    supabase_roles: None,
    fresh_database: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RLS_ANON_READ", raising=False)
    env_file = tmp_path / "supabase.env"
    env_file.write_text(f"DATABASE_URL={_conninfo(fresh_database)}\nRLS_ANON_READ=true\n")
    env_file.chmod(0o600)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = run_cli(capsys, "--config", str(env_file), "migrate")
    assert result.exit_code == 0, result.output
    with psycopg.connect(_conninfo(fresh_database)) as conn:
        policies = {
            row[0]
            for row in conn.execute(
                "SELECT policyname FROM pg_policies WHERE tablename = 'pci_dss_controls'"
            )
        }
    assert "sentinel_db_anon_read" in policies


def test_upgrading_keeps_anon_read_access_that_was_turned_on_before(
    supabase_roles: None, fresh_database: URL
) -> None:
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    migrations.upgrade(engine, "0007", rls_anon_read=True)
    migrations.upgrade(engine, rls_anon_read=False)  # RLS_ANON_READ unset at upgrade time
    with psycopg.connect(_conninfo(fresh_database)) as conn:
        conn.execute(_INSERTS["pci_dss_controls"], ("kept",))
        _set_role(conn, "anon")
        assert _count(conn, "pci_dss_controls") == 1
        conn.rollback()
