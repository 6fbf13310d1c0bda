"""Secrets never reach any output; names from the command line never reach SQL unchecked."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.cli_helpers import Result, run_cli, run_subprocess

# 127.0.0.1 uses trust authentication, so the server accepts any password: the planted one
# travels through every code path that handles the URL.
PLANTED = "PlantedS3cret"
PASSWORD = PLANTED + "!"
SERVICE_KEY = "sb-planted-service-role-key-0123456789"
ANON_KEY = "sb-planted-anon-key-9876543210"

COMMANDS: list[tuple[str, ...]] = [
    ("auth", "check"),
    ("auth", "check", "--format", "json"),
    ("auth", "policies"),
    ("db", "status"),
    ("db", "status", "--format", "json"),
    ("db", "check"),
    ("db", "sql"),
    ("db", "rollback", "no_such_table", "--yes"),
    ("migrate", "--dry-run"),
    ("migrate",),
    ("migrate", "--validate"),
    ("stats",),
    ("data", "stats"),
    ("data", "list", "pci_dss_controls"),
    ("data", "list", "all", "--format", "json"),
    ("data", "show", "control", "no-such-control"),
    ("data", "search", "password"),
    ("data", "export", "pci_dss_controls", "--out", "exported"),
    ("import-data", "csv", "bad.csv", "pci_dss_controls"),
    ("import-data", "history"),
    ("import", "bad"),
]


def _url(base: URL, *, port: int | None = None) -> str:
    url = base.set(password=PASSWORD, port=port or base.port)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def _assert_clean(result: Result, args: tuple[str, ...]) -> None:
    for secret in (PLANTED, SERVICE_KEY, ANON_KEY):
        assert secret not in result.output, f"{args} leaked a secret:\n{result.output}"


@pytest.fixture
def workdir(cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder with a malformed CSV, and the Supabase keys in the environment."""
    (tmp_path / "bad.csv").write_text('control_id,chunk\n1.1,"unterminated\n')
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "pci_dss_controls.csv").write_text("nonsense\n\x00\n")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
    monkeypatch.setenv("SUPABASE_ANON_KEY", ANON_KEY)
    monkeypatch.setenv("DB_RETRY_COUNT", "0")
    monkeypatch.setenv("DB_TIMEOUT", "3")
    return tmp_path


def test_no_command_prints_the_password_or_keys(
    workdir: Path,
    database_url: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    planted = _url(database_url)
    closed = _url(database_url, port=_closed_port())
    modes: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
        ("verbose+sql", ("--verbose",), {"DATABASE_URL": planted, "ENABLE_SQL_LOGGING": "true"}),
        ("option", ("--database-url", planted), {"DATABASE_URL": ""}),
        ("closed port", ("--verbose",), {"DATABASE_URL": closed, "ENABLE_SQL_LOGGING": "true"}),
    ]
    refused = 0
    for mode, options, env in modes:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for args in COMMANDS:
            result = run_cli(capsys, *options, *args)
            _assert_clean(result, args)
            if "--verbose" not in options:
                assert "Traceback" not in result.output, (mode, args, result.output)
            refused += result.exit_code == 3
    # The closed port really exercised the driver's error path.
    assert refused >= 10


@pytest.mark.parametrize(
    "bad_url",
    [
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/x",
        f"mysql://root:{PASSWORD}@127.0.0.1/x",
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:port/x",
    ],
)
def test_malformed_urls_are_rejected_without_echoing_them(
    bad_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", bad_url)
    for args in (("auth", "check"), ("--verbose", "db", "status"), ("migrate",)):
        result = run_cli(capsys, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "DATABASE_URL" in result.stderr
        _assert_clean(result, args)
    result = run_cli(capsys, "--database-url", bad_url, "auth", "check")
    assert result.exit_code == 2
    _assert_clean(result, ("--database-url", "auth", "check"))


def test_env_file_secrets_stay_hidden_in_a_real_process(workdir: Path, database_url: URL) -> None:
    env_file = workdir / "settings.env"
    env_file.write_text(
        f"DATABASE_URL={_url(database_url, port=_closed_port())}\n"
        f"SUPABASE_SERVICE_ROLE_KEY={SERVICE_KEY}\nENABLE_SQL_LOGGING=true\nDB_RETRY_COUNT=1\n"
    )
    env_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SUPABASE_"))}
    for args in (("auth", "check"),):
        result = run_subprocess("--verbose", "--config", str(env_file), *args, env=env, cwd=workdir)
        assert result.exit_code == 3, result.output
        assert "Traceback" in result.output  # --verbose shows the driver error's traceback...
        _assert_clean(result, args)  # ...scrubbed


def test_auth_init_writes_mode_600_and_refuses_to_overwrite(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "auth", "init").exit_code == 0
    env = workdir / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    env.write_text("DATABASE_URL=keep-me\n")
    again = run_cli(capsys, "auth", "init")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert env.read_text() == "DATABASE_URL=keep-me\n"
    env.chmod(0o644)
    assert run_cli(capsys, "auth", "init", "--force").exit_code == 0
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "DATABASE_URL=keep-me" not in env.read_text()


def test_auth_check_warns_when_the_env_file_is_readable_by_others(
    workdir: Path, database_url_str: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = workdir / ".env"
    env.write_text(f"DATABASE_URL={database_url_str}\n")
    env.chmod(0o640)
    result = run_cli(capsys, "auth", "check")
    assert result.exit_code == 1
    assert "readable by others" in result.stderr and "chmod 600" in result.stderr
    env.chmod(0o600)
    result = run_cli(capsys, "auth", "check")
    assert "readable by others" not in result.output


INJECTIONS = (
    "pci_dss_controls; DROP TABLE import_runs;--",
    "x' OR '1'='1",
    '"pci_dss_controls"',
    "pci_dss_controls --",
)


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {sql_name(t)}")).scalar_one())
            for t in ALL_TABLES
        }


def test_injection_strings_are_rejected_as_names_and_change_nothing(
    workdir: Path, clean_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    with clean_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pci_dss_controls (control_id, chunk, metadata)"
                " VALUES ('1.1', 'a control', '{}')"
            )
        )
    before = _counts(clean_db)
    (workdir / "controls.csv").write_text("control_id,requirement,chunk,metadata\n")
    for name in INJECTIONS:
        as_table = [
            ("db", "rollback", name, "--yes"),
            ("data", "list", name),
            ("data", "clear", name, "--yes"),
            ("data", "export", name, "--out", "exported"),
            ("import-data", "csv", "controls.csv", name),
        ]
        as_other = [
            ("data", "show", "control", name),
            ("data", "show", "rule", name),
            ("data", "search", name),
            ("import-data", "history", "--table", name),
        ]
        for args in as_table:
            result = run_cli(capsys, *args)
            assert result.exit_code == 2, (args, result.output)
            assert "Traceback" not in result.output
        for args in as_other:
            result = run_cli(capsys, *args)
            assert result.exit_code in (0, 1, 2), (args, result.output)
            assert "Traceback" not in result.output
    assert all(migrations.existing_tables(clean_db.engine).values())
    assert _counts(clean_db) == before
