"""`auth init` and `auth check`: the .env template and the connection report."""

from __future__ import annotations

import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli, run_subprocess


def test_auth_init_writes_a_private_template_and_refuses_to_overwrite(
    cli_env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "auth", "init")
    assert result.exit_code == 0, result.output
    env = tmp_path / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    body = env.read_text()
    for name in (
        "DATABASE_URL",
        "DB_BATCH_SIZE",
        "DB_POOL_SIZE",
        "SUPABASE_SERVICE_ROLE_KEY",
        "6543",
    ):
        assert name in body
    env.write_text("# mine\n")
    again = run_cli(capsys, "auth", "init")
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert env.read_text() == "# mine\n"
    env.chmod(0o644)
    forced = run_cli(capsys, "auth", "init", "--force")
    assert forced.exit_code == 0 and "DATABASE_URL=" in env.read_text()
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_auth_check_reports_a_healthy_database(
    cli_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "auth", "check", "--format", "json")
    import json

    report = json.loads(result.stdout)
    assert report["current_revision"] == report["head_revision"]
    assert all(report["tables"].values())
    assert report["server_version"] and report["user"]
    text = run_cli(capsys, "auth", "check")
    assert (
        "server:    PostgreSQL" in text.stdout and "table:     import_runs: present" in text.stdout
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_auth_check_against_a_closed_port_fails_clearly_without_traceback(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(cli_env)
    env["DATABASE_URL"] = f"postgresql://someone:Cl0sedPortSecret@127.0.0.1:{_closed_port()}/db"
    env["DB_RETRY_COUNT"] = "1"
    result = run_subprocess("auth", "check", env=env, cwd=tmp_path)
    assert result.exit_code == 3
    assert "connection refused" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.output
    assert "Cl0sedPortSecret" not in result.output
    assert "someone:***@127.0.0.1" in result.stderr


def test_unknown_database_fails_at_once_without_retrying(
    cli_env: dict[str, str], tmp_path: Path, database_url_str: str
) -> None:
    from sqlalchemy.engine import make_url

    env = dict(cli_env)
    env["DATABASE_URL"] = (
        make_url(database_url_str)
        .set(database="no_such_db_here")
        .render_as_string(hide_password=False)
    )
    env["DB_RETRY_COUNT"] = "5"
    result = run_subprocess("auth", "check", env=env, cwd=tmp_path)
    assert result.exit_code == 3
    assert "database no_such_db_here does not exist on the server" in result.stderr
    assert "retrying" not in result.stderr


@pytest.mark.parametrize("command", [("stats",), ("import-data", "history"), ("migrate",)])
def test_every_command_says_which_database_does_not_exist(
    command: tuple[str, ...],
    cli_env: dict[str, str],
    database_url_str: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(database_url_str).set(database="no_such_db_here")
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    result = run_cli(capsys, *command)
    assert result.exit_code == 3, result.output
    assert "database no_such_db_here does not exist on the server" in result.stderr
    assert "check that the server is up" not in result.stderr and "Traceback" not in result.output


def test_malformed_url_is_a_usage_error_naming_the_variable(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(cli_env)
    env["DATABASE_URL"] = "mysql://root:Secr3tMy@localhost/db"
    result = run_subprocess("auth", "check", env=env, cwd=tmp_path)
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.stderr and "Secr3tMy" not in result.output
    assert "Traceback" not in result.output


def test_auth_check_against_a_server_that_never_answers_times_out_clearly(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        env = dict(cli_env)
        env["DATABASE_URL"] = f"postgresql://u@127.0.0.1:{silent.getsockname()[1]}/db"
        env["DB_TIMEOUT"] = "1"
        env["DB_RETRY_COUNT"] = "0"
        result = run_subprocess("auth", "check", env=env, cwd=tmp_path)
    assert result.exit_code == 3
    assert "connection timed out" in result.stderr and "DB_TIMEOUT" in result.stderr
    assert "Traceback" not in result.output
