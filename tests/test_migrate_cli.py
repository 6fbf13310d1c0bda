"""The schema life cycle through the CLI and Alembic: migrate, dry run, rollback, concurrency."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.cli_helpers import run_cli, run_subprocess
from tests.conftest import REPO_ROOT


def _url(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SUPABASE_"))}
    env["DATABASE_URL"] = _url(url)
    return env


def _seed_rows(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pci_dss_controls (control_id, requirement, chunk, metadata) "
                "VALUES ('1.1', 'Firewalls', 'text', '{\"requirements_id\": \"1\"}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO pci_aws_config_rule_mappings (control_id, config_rules) "
                "VALUES ('1.1', '[\"restricted-ssh\"]')"
            )
        )


def test_drift_check_notices_a_missing_expression_index(fresh_database: URL) -> None:
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_pci_dss_controls_requirements_id"))
    diffs = migrations.drift(db.engine)
    assert [d[0] for d in diffs] == ["add_index"]
    assert diffs[0][1].name == "ix_pci_dss_controls_requirements_id"


def test_upgrade_downgrade_upgrade_keeps_working_on_a_database_with_rows(
    fresh_database: URL,
) -> None:
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    _seed_rows(db)
    migrations.downgrade_branch(db.engine, "pci_dss_controls@0001")  # search column removed
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pci_dss_controls")).scalar_one() == 1
    migrations.upgrade(db.engine)
    with db.engine.connect() as conn:
        vector = conn.execute(text("SELECT search_vector::text FROM pci_dss_controls")).scalar_one()
    assert "firewal" in vector
    assert migrations.drift(db.engine) == []


def test_dry_run_prints_sql_and_changes_nothing(
    fresh_database: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _url(fresh_database))
    result = run_cli(capsys, "db", "migrate", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE pci_dss_controls" in result.stdout
    db = Database.from_url(fresh_database, load_settings(None))
    assert migrations.status(db.engine).current is None
    assert not any(migrations.existing_tables(db.engine).values())
    # From an older revision too: "head" is the core head, not the optional vectors branch's.
    migrations.upgrade(db.engine, "0007")
    partial = run_cli(capsys, "db", "migrate", "--dry-run")
    assert partial.exit_code == 0, partial.output
    assert f"'{migrations.head()}'" in partial.stdout and "v0001" not in partial.stdout
    assert migrations.status(db.engine).current == "0007"


def test_migrate_validate_then_status_reports_head(
    fresh_database: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _url(fresh_database))
    assert run_cli(capsys, "migrate", "--validate").exit_code == 0
    status = run_cli(capsys, "db", "status")
    assert f"current: {migrations.head()}" in status.stdout
    assert "pending: none" in status.stdout
    assert run_cli(capsys, "db", "check").exit_code == 0


def test_two_concurrent_migrate_processes_both_succeed(fresh_database: URL, tmp_path: Path) -> None:
    env = _env(fresh_database)
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda _: run_subprocess("migrate", env=env, cwd=tmp_path), range(2))
        )
    assert [r.exit_code for r in results] == [0, 0], [r.stderr for r in results]
    db = Database.from_url(fresh_database, load_settings(None))
    assert migrations.status(db.engine).up_to_date


def test_rollback_by_table_lists_revisions_and_rows_then_removes_only_what_it_must(
    fresh_database: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _url(fresh_database))
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    _seed_rows(db)
    declined = run_cli(capsys, "db", "rollback", "pci_aws_config_rule_mappings", input="n\n")
    assert declined.exit_code != 0
    assert migrations.existing_tables(db.engine)["pci_aws_config_rule_mappings"]
    assert "pci_aws_config_rule_mappings: 1 rows lost" in declined.stderr

    result = run_cli(capsys, "db", "rollback", "pci_aws_config_rule_mappings", "--yes")
    assert result.exit_code == 0, result.output
    tables = migrations.existing_tables(db.engine)
    assert tables == {
        "pci_dss_controls": True,
        "aws_config_rules_guidance": True,
        "pci_aws_config_rule_mappings": False,
        "import_runs": True,
    }
    status = migrations.status(db.engine)
    assert "0003" in {r.revision for r in status.pending} and not status.up_to_date
    assert "0001" not in {r.revision for r in status.pending}


def test_rollback_of_an_unknown_table_is_a_usage_error(
    fresh_database: URL, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _url(fresh_database))
    migrations.upgrade(Database.from_url(fresh_database, load_settings(None)).engine)
    result = run_cli(capsys, "db", "rollback", "no_such_table", "--yes")
    assert result.exit_code == 2
    assert "unknown table no_such_table" in result.stderr and "Traceback" not in result.output


def test_manual_sql_file_matches_the_migrations() -> None:
    committed = (REPO_ROOT / "create_tables_manual.sql").read_text(encoding="utf-8")
    assert committed == migrations.upgrade_sql("head"), (
        "create_tables_manual.sql is stale: run `sentinel-db db sql -o create_tables_manual.sql`"
    )
