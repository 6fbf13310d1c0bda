"""`embedded status` and `embedded stop` against a throwaway embedded server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sentinel_db.config import get_settings
from tests.cli_helpers import run_cli
from tests.pg_throwaway import ThrowawayServer, throwaway_server

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def use_folder(cli_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point SENTINEL_DB_EMBEDDED_DIR at a folder for the commands that follow."""

    def point(folder: Path) -> None:
        monkeypatch.setenv("SENTINEL_DB_EMBEDDED_DIR", str(folder))
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


@pytest.fixture
def server() -> Iterator[ThrowawayServer]:
    with throwaway_server() as srv:
        yield srv


def _status(capsys: Capsys) -> dict[str, Any]:
    result = run_cli(capsys, "embedded", "status", "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_status_of_an_unused_folder_says_so_and_starts_nothing(
    capsys: Capsys, use_folder: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "never-used"
    use_folder(folder)
    data = _status(capsys)
    assert (data["initialised"], data["running"], data["pid"], data["size_bytes"]) == (
        False,
        False,
        None,
        0,
    )
    text = run_cli(capsys, "embedded", "status")
    assert "running:  no" in text.stdout and "not created yet" in text.stdout
    assert not folder.exists()
    stop = run_cli(capsys, "embedded", "stop")
    assert stop.exit_code == 0 and "nothing changed" in stop.stderr


def test_status_describes_a_running_server_and_stop_stops_it(
    capsys: Capsys, use_folder: Any, server: ThrowawayServer
) -> None:
    use_folder(server.folder)
    data = _status(capsys)
    assert data["running"] is True and data["initialised"] is True
    assert data["pid"] == server._handle.get_pid()
    assert data["data_dir"] == str(server.folder)
    assert data["version"] == "18" and data["size_bytes"] > 10_000_000
    assert data["socket_dir"] == str(server.socket_dir) and data["port"]
    text = run_cli(capsys, "embedded", "status")
    assert f"pid:      {data['pid']}" in text.stdout and "PostgreSQL 18" in text.stdout
    # The socket is what clients use; a port alone would point at whatever owns it on TCP.
    assert f"socket:   {server.socket_dir}/.s.PGSQL.{data['port']}" in text.stdout
    assert "port:" not in text.stdout
    if data["listen_address"] is None:
        assert "tcp:      none (the socket only" in text.stdout
    else:
        assert f"tcp:      {data['listen_address']} port {data['port']}" in text.stdout

    # A running server's URL is read from its postmaster.pid, and it is the server's own.
    from sentinel_db.runtime.embedded import embedded_url

    assert embedded_url(server.folder) == server.admin_uri
    with psycopg.connect(embedded_url(server.folder)) as conn:
        assert conn.execute("SELECT current_setting('data_directory')").fetchone() is not None

    stopped = run_cli(capsys, "embedded", "stop")
    assert stopped.exit_code == 0, stopped.output
    assert "stopped the embedded PostgreSQL" in stopped.stderr
    assert _status(capsys)["running"] is False
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.admin_uri, connect_timeout=2).close()
    again = run_cli(capsys, "embedded", "stop")
    assert again.exit_code == 0 and "not running; nothing changed" in again.stderr
