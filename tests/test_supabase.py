"""Supabase hardening, proven on a database set up as Supabase sets one up (roles and default
privileges in place before `migrate`): what each API role can do, the advisor's lints, and an
in-place upgrade of a database migrated before bookkeeping moved out of ``public``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.importers import import_directory
from sentinel_db.records.models import REFERENCE_TABLES
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.schema import lints, migrations
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES, REPO_ROOT
from tests.supabase import API_ROLES, conninfo, make_supabase_like

BOOKKEEPING = ("sentinel_db.import_runs", "sentinel_db.sentinel_db_alembic_version")
_WRITES = {
    "INSERT": "INSERT INTO {} DEFAULT VALUES",
    "UPDATE": "UPDATE {} SET id = id",
    "DELETE": "DELETE FROM {}",
    "TRUNCATE": "TRUNCATE {}",
}


@pytest.fixture(scope="module")
def supabase_url(server_url: URL) -> Iterator[URL]:
    """A Supabase-like database, migrated and loaded with the sample data by the CLI."""
    name = f"sentinel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.set(database=name)
    try:
        make_supabase_like(server_url, url)
        db = Database.from_url(url, load_settings(None))
        migrations.upgrade(db.engine, rls_anon_read=False)
        report = import_directory(db, EXAMPLES)
        assert report.total("rejected") == 0
        yield url
    finally:
        dispose_engines()
        with psycopg.connect(conninfo(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SUPABASE_"))}
    env["DATABASE_URL"] = conninfo(url)
    env.pop("RLS_ANON_READ", None)
    return env


def _refused(conn: psycopg.Connection, statement: sql.Composable) -> bool:
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def _ident(name: str) -> sql.Composable:
    return sql.Identifier(*name.split("."))


def test_no_api_role_can_write_any_table_or_read_bookkeeping(supabase_url: URL) -> None:
    with psycopg.connect(conninfo(supabase_url)) as conn:
        for role in API_ROLES:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            for table in (*REFERENCE_TABLES, *BOOKKEEPING):
                for kind, template in _WRITES.items():
                    statement = sql.SQL(template).format(_ident(table))
                    assert _refused(conn, statement), f"{role} may {kind} {table}"
            for table in BOOKKEEPING:
                statement = sql.SQL("SELECT count(*) FROM {}").format(_ident(table))
                assert _refused(conn, statement), f"{role} may read {table}"
            anon = role == "anon"
            for table in REFERENCE_TABLES:
                statement = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                # anon reads nothing without RLS_ANON_READ; the others read through their grant
                assert _refused(conn, statement) is anon, (role, table)
            conn.execute("RESET ROLE")
        conn.execute("SET ROLE authenticated")
        assert conn.execute("SELECT count(*) FROM pci_dss_controls").fetchone() == (38,)


def test_lints_find_nothing_after_migrate_and_import(
    supabase_url: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", conninfo(supabase_url))
    result = run_cli(capsys, "auth", "check")
    assert result.exit_code == 0, result.output
    assert "lints:     no problem(s) found" in result.stdout


_PLANTED = (
    (
        "ALTER TABLE pci_dss_controls DISABLE ROW LEVEL SECURITY",
        "ERROR rls_disabled_in_public: row-level security is off on public.pci_dss_controls",
    ),
    ("ALTER TABLE pci_dss_controls DISABLE ROW LEVEL SECURITY", "policy_exists_rls_disabled"),
    (
        "GRANT INSERT, TRUNCATE ON aws_config_rules_guidance TO anon",
        "anon holds INSERT, TRUNCATE on public.aws_config_rules_guidance",
    ),
    (
        "GRANT UPDATE (control_id) ON pci_aws_config_rule_mappings TO authenticated",
        "authenticated holds UPDATE on public.pci_aws_config_rule_mappings",
    ),
    (
        "GRANT SELECT ON pci_dss_controls TO anon",
        "anon holds SELECT on public.pci_dss_controls",
    ),
    (
        "GRANT SELECT ON sentinel_db.import_runs TO service_role",
        "service_role holds SELECT on sentinel_db.import_runs",
    ),
    ("GRANT USAGE ON SCHEMA sentinel_db TO anon", "anon may use the sentinel_db schema"),
    (
        "ALTER TABLE sentinel_db.import_runs SET SCHEMA public",
        "bookkeeping_in_api_schema: public.import_runs",
    ),
    (
        "ALTER TABLE sentinel_db.sentinel_db_alembic_version DISABLE ROW LEVEL SECURITY",
        "WARN rls_disabled: row-level security is off on sentinel_db.sentinel_db_alembic_version",
    ),
    (
        "CREATE INDEX ix_copy ON pci_dss_controls ((metadata ->> 'requirements_id'))",
        "duplicate_index: public.pci_dss_controls has identical indexes",
    ),
    (
        "CREATE VIEW controls_view AS SELECT control_id FROM pci_dss_controls",
        "security_definer_view: view public.controls_view",
    ),
    (
        "CREATE MATERIALIZED VIEW rules_copy AS SELECT config_rule FROM aws_config_rules_guidance",
        "materialized_view_in_api: materialized view public.rules_copy",
    ),
    (
        "CREATE FUNCTION sentinel_db.touch() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "function_search_path_mutable: function sentinel_db.touch",
    ),
    (
        "CREATE FUNCTION sentinel_db.peek() RETURNS int LANGUAGE sql SECURITY DEFINER"
        " SET search_path = '' AS 'SELECT 1'; GRANT USAGE ON SCHEMA sentinel_db TO authenticated",
        "authenticated_security_definer_function_executable",
    ),
    (
        "CREATE POLICY second_read ON pci_dss_controls FOR SELECT TO authenticated USING (true)",
        "multiple_permissive_policies",
    ),
    (
        "CREATE POLICY per_row ON aws_config_rules_guidance FOR SELECT TO authenticated"
        " USING (current_setting('request.jwt.claims', true) IS NOT NULL)",
        "auth_rls_initplan",
    ),
)


@pytest.mark.parametrize(("plant", "expected"), _PLANTED)
def test_lints_report_a_planted_problem(supabase_url: URL, plant: str, expected: str) -> None:
    engine = Database.from_url(supabase_url, load_settings(None)).engine
    with engine.connect() as conn:
        outer = conn.begin()
        assert lints.lint(conn) == []
        conn.exec_driver_sql(plant)
        found = [str(f) for f in lints.lint(conn)]
        outer.rollback()
    assert any(expected in line for line in found), found


def test_auth_check_fails_on_a_grant_and_auth_policies_takes_it_back(
    supabase_url: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", conninfo(supabase_url))
    with psycopg.connect(conninfo(supabase_url), autocommit=True) as conn:
        conn.execute("GRANT DELETE ON pci_dss_controls TO authenticated")
    checked = run_cli(capsys, "auth", "check")
    assert checked.exit_code == 1
    assert "authenticated holds DELETE on public.pci_dss_controls" in checked.stderr
    assert run_cli(capsys, "auth", "policies").exit_code == 0
    assert run_cli(capsys, "auth", "check").exit_code == 0


def test_database_stamped_0007_upgrades_in_place_and_downgrades_back(
    server_url: URL, fresh_database: URL
) -> None:
    """0007 is where every database migrated before this history was reshaped stands."""
    make_supabase_like(server_url, fresh_database)
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine, "0007")
    with db.engine.begin() as conn:
        # What Supabase's advisor reported on such a database: the version table open to the API.
        found = [str(f) for f in lints.lint(conn)]
        assert any(
            f.startswith("ERROR rls_disabled_in_public")
            and "public.sentinel_db_alembic_version" in f
            for f in found
        )
        assert any("anon holds SELECT, INSERT, UPDATE, DELETE" in f for f in found)
        assert conn.execute(text("SELECT version_num FROM sentinel_db_alembic_version")).all() == [
            ("0007",)
        ]
        conn.execute(
            text(
                "INSERT INTO import_runs (run_id, table_name, source_path, status,"
                " sentinel_version) VALUES (gen_random_uuid(), 'pci_dss_controls', 'x.csv',"
                " 'succeeded', 'old')"
            )
        )
    proc = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", migrations.head()],
        cwd=REPO_ROOT,
        env=_env(fresh_database),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    status = migrations.status(db.engine)
    assert status.up_to_date and migrations.drift(db.engine) == []
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('public.import_runs')")).scalar() is None
        assert conn.execute(text("SELECT source_path FROM sentinel_db.import_runs")).all() == [
            ("x.csv",)
        ]
        assert lints.lint(conn) == []
    migrations.downgrade(db.engine, "0007")
    with db.engine.connect() as conn:
        where = conn.execute(
            text(
                "SELECT to_regclass('public.import_runs')::text,"
                " to_regclass('public.sentinel_db_alembic_version')::text,"
                " to_regnamespace('sentinel_db')::text"
            )
        ).one()
        # Going back never hands privileges out again.
        assert not conn.execute(
            text("SELECT has_table_privilege('anon', 'pci_dss_controls', 'TRUNCATE')")
        ).scalar()
    assert tuple(where) == ("import_runs", "sentinel_db_alembic_version", None)
    assert migrations.status(db.engine).heads == ("0007",)
    assert migrations.upgrade(db.engine).up_to_date


def test_migrate_finds_the_moved_version_table(
    supabase_url: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", conninfo(supabase_url))
    result = run_cli(capsys, "migrate")
    assert result.exit_code == 0, result.output
    assert "already at" in result.stderr and "nothing to do" in result.stderr
