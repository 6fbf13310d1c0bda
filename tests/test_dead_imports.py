"""An import whose process is killed (SIGKILL) leaves no `running` row once the next command ran;
an import that is still going is never marked. Processes are real, and so is the server."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from sentinel_db.importers.reaper import DEAD_RUN_REASON
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.supabase import conninfo

_DEADLINE = 60.0
_BLOCKED_ON_LOCK = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND (query LIKE 'INSERT INTO %' OR query LIKE 'UPDATE %')"
)
_COPYING = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active'"
    " AND query LIKE 'COPY \"sentinel_stage%'"
)


def _controls(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["control_id", "requirement", "chunk", "metadata"])
        for i in range(rows):
            control = f"{1 + i // 10000}.{1 + i // 100 % 100}.{1 + i % 100}"
            writer.writerow([control, "R", f"text {i} " * 20, json.dumps({"n": i})])
    return path


def _rules(path: Path) -> Path:
    path.write_text('config_rule,chunk,metadata\nlive-rule,text,"{}"\n', encoding="utf-8")
    return path


def _start(url: str, path: Path, table: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SUPABASE_"))}
    env["DATABASE_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-m", "sentinel_db", "import-data", "csv", str(path), table, "--force"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_pid(admin: psycopg.Connection, query: str, proc: subprocess.Popen[bytes]) -> int:
    """The backend running ``query``; polls the catalog until it appears (bounded)."""
    deadline = time.monotonic() + _DEADLINE
    while time.monotonic() < deadline:
        row = admin.execute(query).fetchone()
        if row is not None:
            return int(row[0])
        assert proc.poll() is None, "the import ended before reaching the expected step"
        time.sleep(0.005)  # polling a condition, bounded by the deadline
    raise AssertionError(f"no backend matched: {query}")


def _wait_gone(admin: psycopg.Connection, pid: int) -> None:
    """Wait until the killed process's server backend has ended (it releases its locks then)."""
    deadline = time.monotonic() + _DEADLINE
    while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
        assert time.monotonic() < deadline, f"backend {pid} never ended"
        time.sleep(0.01)  # polling a condition, bounded by the deadline


def _statuses(admin: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    """table → (status, error) straight from the catalog table, without reaping anything."""
    rows = admin.execute("SELECT table_name, status, error FROM sentinel_db.import_runs").fetchall()
    return {table: (status, error) for table, status, error in rows}


@contextmanager
def _holding_writes(admin: psycopg.Connection, table: str) -> Iterator[psycopg.Connection]:
    """A transaction that lets ``table`` be read but not written until it ends."""
    with psycopg.connect(admin.info.dsn, password=admin.info.password) as blocker:
        blocker.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        yield blocker


@pytest.fixture
def admin(database_url: URL, clean_db: Database) -> Iterator[psycopg.Connection]:
    """A direct autocommit connection to the (emptied) test database, for watching and locking."""
    with psycopg.connect(conninfo(database_url), autocommit=True) as conn:
        yield conn


def test_killed_mid_copy_is_marked_failed_while_a_live_import_is_not(
    admin: psycopg.Connection,
    database_url_str: str,
    tmp_path: Path,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    big = _controls(tmp_path / "pci_dss_controls.csv", 8_000)
    with _holding_writes(admin, "aws_config_rules_guidance") as blocker:
        live = _start(database_url_str, _rules(tmp_path / "rules.csv"), "aws_config_rules_guidance")
        _wait_for_pid(admin, _BLOCKED_ON_LOCK, live)
        doomed = _start(database_url_str, big, "pci_dss_controls")
        pid = _wait_for_pid(admin, _COPYING, doomed)
        doomed.kill()
        doomed.wait()
        _wait_gone(admin, pid)
        assert _statuses(admin)["pci_dss_controls"][0] == "running"

        history = run_cli(capsys, "import-data", "history", "--format", "json")
        assert history.exit_code == 0, history.output
        statuses = _statuses(admin)
        assert statuses["pci_dss_controls"] == ("failed", DEAD_RUN_REASON)
        assert statuses["aws_config_rules_guidance"] == ("running", None)  # alive: never marked
        blocker.rollback()
    assert live.wait(timeout=_DEADLINE) == 0
    assert _statuses(admin)["aws_config_rules_guidance"][0] == "succeeded"
    assert admin.execute("SELECT count(*) FROM pci_dss_controls").fetchone() == (0,)


@pytest.mark.parametrize("via", ["direct", pytest.param("pgbouncer", marks=pytest.mark.pooler)])
def test_killed_mid_merge_is_marked_failed_by_the_next_stats(
    via: str,
    request: pytest.FixtureRequest,
    admin: psycopg.Connection,
    database_url_str: str,
    tmp_path: Path,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = database_url_str
    if via == "pgbouncer":
        url = conninfo(request.getfixturevalue("pooler_url"))
    with _holding_writes(admin, "pci_dss_controls") as blocker:
        doomed = _start(url, _controls(tmp_path / "pci_dss_controls.csv", 50), "pci_dss_controls")
        pid = _wait_for_pid(admin, _BLOCKED_ON_LOCK, doomed)
        doomed.kill()
        doomed.wait()
        blocker.rollback()  # the killed import's statement may now finish; its transaction cannot
    _wait_gone(admin, pid)
    assert _statuses(admin)["pci_dss_controls"][0] == "running"

    stats = run_cli(capsys, "stats")
    assert stats.exit_code == 0, stats.output
    assert _statuses(admin)["pci_dss_controls"] == ("failed", DEAD_RUN_REASON)
    assert admin.execute("SELECT count(*) FROM pci_dss_controls").fetchone() == (0,)
