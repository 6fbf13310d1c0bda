"""`alembic` as typed from the repository root, and the embedded default leaving schemas alone.

Every command runs as a separate process from the repository root with only ``DATABASE_URL``
set (or, for the embedded default, nothing at all), as a person would type it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.importers import import_directory
from sentinel_db.runtime import embedded
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.cli_helpers import Result, run_subprocess
from tests.conftest import EXAMPLES, REPO_ROOT


def bare_env(**extra: str) -> dict[str, str]:
    """This process's environment without any database or test setting, plus ``extra``."""
    prefixes = ("DATABASE_", "SUPABASE_", "DB_", "SENTINEL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


def alembic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``alembic ARGS`` run from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _public_tables(url: URL) -> set[str]:
    with Database.from_url(url, load_settings(None)).engine.connect() as conn:
        rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return {str(r[0]) for r in rows}


def test_upgrade_check_and_downgrade_work_as_typed_on_a_fresh_database(
    fresh_database: URL,
) -> None:
    env = bare_env(DATABASE_URL=_libpq(fresh_database))
    up = alembic("upgrade", "head", env=env)
    assert up.returncode == 0, up.stderr
    assert {"pci_dss_controls", "pci_aws_config_rule_mappings"} <= _public_tables(fresh_database)
    check = alembic("check", env=env)
    assert check.returncode == 0 and "No new upgrade operations" in check.stdout + check.stderr
    down = alembic("downgrade", "base", env=env)
    assert down.returncode == 0, down.stderr
    assert _public_tables(fresh_database) <= {"sentinel_db_alembic_version"}


def test_a_database_at_head_with_rows_upgrades_in_place_and_keeps_them(
    fresh_database: URL,
) -> None:
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine, migrations.head())
    assert import_directory(db, EXAMPLES).exit_code == 0
    before = _row_counts(db)
    env = bare_env(DATABASE_URL=_libpq(fresh_database))
    assert alembic("upgrade", "head", env=env).returncode == 0
    assert alembic("check", env=env).returncode == 0
    assert _row_counts(db) == before and before["pci_dss_controls"] > 0
    state = migrations.status(db.engine)
    assert state.up_to_date and state.vectors is None


def _row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("pci_dss_controls", "aws_config_rules_guidance")
        }


# --- the embedded default --------------------------------------------------------------------


@pytest.fixture
def embedded_folder() -> Iterator[Path]:
    """A data folder for the embedded default, its server stopped and the folder removed at the
    end. Outside pytest's own temporary folders: as root the server runs as another user, who
    must be able to reach the folder (pytest keeps its folders private to the user)."""
    parent = Path(tempfile.mkdtemp(prefix="sentinel-db-embedded-"))
    folder = parent / "embedded"
    try:
        yield folder
    finally:
        embedded.stop(folder)
        shutil.rmtree(parent, ignore_errors=True)


def _cli(folder: Path, *args: str) -> Result:
    return run_subprocess(*args, env=bare_env(SENTINEL_DB_EMBEDDED_DIR=str(folder)), cwd=REPO_ROOT)


def test_a_new_embedded_folder_is_created_at_head_and_a_rollback_stays_rolled_back(
    embedded_folder: Path,
) -> None:
    first = _cli(embedded_folder, "import", str(EXAMPLES))
    assert first.exit_code == 0, first.output
    assert "pending: none" in _cli(embedded_folder, "db", "status").stdout

    table = "pci_aws_config_rule_mappings"
    rolled = _cli(embedded_folder, "db", "rollback", table, "--yes")
    assert rolled.exit_code == 0, rolled.output

    status = _cli(embedded_folder, "db", "status")
    assert status.exit_code == 0
    assert "pending: none" not in status.stdout and "0003" in status.stdout
    stats = _cli(embedded_folder, "stats")
    assert stats.exit_code != 0 and "Traceback" not in stats.output
    assert f"table {table} is missing" in stats.stderr and "sentinel-db migrate" in stats.stderr
    # Neither command put the table back behind the user's back.
    url = embedded.open_url(embedded_folder)
    assert table not in _public_tables(url)

    assert _cli(embedded_folder, "migrate").exit_code == 0
    assert table in _public_tables(url)
    assert "pending: none" in _cli(embedded_folder, "db", "status").stdout
