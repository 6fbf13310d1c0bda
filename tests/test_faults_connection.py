"""Connection faults: the server going away and coming back, pool exhaustion, timeouts.

Tests that stop the server use a throwaway embedded one; the shared test server is never touched
beyond the test database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import (
    ConnectionFailedError,
    DatabaseTimeoutError,
    ExitCode,
)
from sentinel_db.records.models import PciControl
from sentinel_db.runtime.db import Database, create_db_engine
from tests.cli_helpers import run_cli
from tests.pg_throwaway import ThrowawayServer, throwaway_server


@pytest.fixture(scope="module")
def server() -> Iterator[ThrowawayServer]:
    """A throwaway server for this module's stop/start tests."""
    with throwaway_server() as srv:
        yield srv


@pytest.fixture
def running(server: ThrowawayServer) -> Iterator[ThrowawayServer]:
    """The throwaway server, brought back up after a test that left it down."""
    yield server
    if not server.is_running():
        server.start()


def _database(url: URL, **overrides: object) -> Database:
    return Database(create_db_engine(url, load_settings(None, **overrides)))


def _connect_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sentinel_db.db" and r.getMessage().startswith("connection attempt")
    ]


def test_connect_retries_with_backoff_until_the_server_comes_back(
    running: ThrowawayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sentinel_db.db")
    db = _database(running.url(), db_retry_count=10, db_timeout=2)
    running.stop()
    first_retry = threading.Event()
    restarted = threading.Event()

    class _OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                first_retry.set()

    def _restart_after_first_retry() -> None:
        if first_retry.wait(timeout=20):
            running.start()
            restarted.set()

    handler = _OnRetry()
    logging.getLogger("sentinel_db.db").addHandler(handler)
    restarter = threading.Thread(target=_restart_after_first_retry, daemon=True)
    restarter.start()
    try:
        report = db.health_check()
    finally:
        logging.getLogger("sentinel_db.db").removeHandler(handler)
        first_retry.set()
        restarter.join(timeout=30)
        db.engine.dispose()

    assert restarted.is_set()
    assert report.server_version
    attempts = _connect_log(caplog)
    assert attempts, "the failed attempts before the restart are logged"
    assert all("retrying in" in message for message in attempts)
    assert not any("giving up" in message for message in attempts)


def test_connect_gives_up_after_the_configured_retries_with_a_clear_error(
    running: ThrowawayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sentinel_db.db")
    retries = 2
    db = _database(running.url(), db_retry_count=retries, db_timeout=1)
    running.stop()
    started = time.monotonic()
    with pytest.raises(ConnectionFailedError) as caught:
        db.health_check()
    elapsed = time.monotonic() - started
    db.engine.dispose()

    attempts = _connect_log(caplog)
    assert len(attempts) == retries + 1
    assert "giving up" in attempts[-1]
    assert f"{retries + 1} of {retries + 1}" in attempts[-1]
    # Backoff 0.25 s then 0.5 s, each with at most +50 % jitter.
    assert elapsed < 5
    assert caught.value.exit_code == ExitCode.CANNOT_CONNECT
    assert caught.value.message.startswith("cannot connect to postgresql://")
    assert caught.value.hint


def test_cli_reports_an_unreachable_server_without_a_traceback(
    running: ThrowawayServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    from sentinel_db.config import get_settings

    monkeypatch.setenv("DATABASE_URL", running.libpq_uri())
    monkeypatch.setenv("DB_RETRY_COUNT", "1")
    monkeypatch.setenv("DB_TIMEOUT", "1")
    get_settings.cache_clear()
    running.stop()
    try:
        result = run_cli(capsys, "db", "status")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == ExitCode.CANNOT_CONNECT
    assert "error: " in result.stderr
    assert "Traceback" not in result.output


def test_pooled_connections_broken_by_a_server_restart_are_replaced(
    running: ThrowawayServer,
) -> None:
    db = _database(running.url(), db_retry_count=3, db_pool_size=2, db_max_overflow=0)
    try:
        with db.engine.connect() as conn:
            before = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        running.restart()
        # The pooled connection is dead now; the pre-ping notices and reconnects.
        with db.engine.connect() as conn:
            after = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert after != before
    finally:
        db.engine.dispose()


def test_pool_exhaustion_ends_in_a_clear_timeout_not_a_hang(database_url: URL) -> None:
    pool_size, overflow, timeout = 2, 1, 0.3
    db = _database(
        database_url, db_pool_size=pool_size, db_max_overflow=overflow, db_timeout=timeout
    )
    holders_in = threading.Barrier(pool_size + overflow + 1)
    release = threading.Event()
    outcomes: list[BaseException | None] = []
    lock = threading.Lock()

    def _hold() -> None:
        with db.unit_of_work() as session:
            session.execute(text("SELECT 1"))
            holders_in.wait(timeout=10)
            release.wait(timeout=10)

    def _late() -> None:
        try:
            with db.unit_of_work() as session:
                session.execute(text("SELECT 1"))
            result: BaseException | None = None
        except BaseException as exc:
            result = exc
        with lock:
            outcomes.append(result)

    holders = [threading.Thread(target=_hold) for _ in range(pool_size + overflow)]
    for thread in holders:
        thread.start()
    try:
        holders_in.wait(timeout=10)
        started = time.monotonic()
        late = [threading.Thread(target=_late) for _ in range(3)]
        for thread in late:
            thread.start()
        for thread in late:
            thread.join(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        for thread in holders:
            thread.join(timeout=10)

    assert len(outcomes) == 3
    assert all(isinstance(exc, DatabaseTimeoutError) for exc in outcomes), outcomes
    first = outcomes[0]
    assert isinstance(first, DatabaseTimeoutError)
    assert "timed out waiting for a pooled connection" in first.message
    assert first.hint and "DB_POOL_SIZE" in first.hint
    assert elapsed < 5
    # Once the holders let go, the pool serves again.
    with db.unit_of_work() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
    db.engine.dispose()


def test_health_check_on_an_exhausted_pool_says_timeout_not_cannot_connect(
    database_url: URL,
) -> None:
    db = _database(database_url, db_pool_size=1, db_max_overflow=0, db_timeout=0.2)
    try:
        with db.engine.connect(), pytest.raises(DatabaseTimeoutError):
            db.health_check()
    finally:
        db.engine.dispose()


def _control(control_id: str) -> PciControl:
    return PciControl(control_id=control_id, requirement="r", chunk="text", metadata_={})


def _control_count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM pci_dss_controls")).scalar_one())


def test_statement_timeout_during_work_is_reported_and_nothing_is_written(
    clean_db: Database,
) -> None:
    with pytest.raises(DatabaseTimeoutError) as caught, clean_db.unit_of_work() as session:
        session.add(_control("1.1"))
        session.flush()
        session.execute(text("SET LOCAL statement_timeout = '100ms'"))
        session.execute(text("SELECT pg_sleep(5)"))
    assert "statement timeout" in caught.value.message
    assert _control_count(clean_db) == 0


def test_lock_timeout_during_work_is_reported_and_nothing_is_written(
    clean_db: Database, database_url_str: str
) -> None:
    with psycopg.connect(database_url_str) as locker:
        locker.execute("LOCK TABLE aws_config_rules_guidance IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(DatabaseTimeoutError) as caught, clean_db.unit_of_work() as session:
            session.add(_control("1.2"))
            session.flush()
            session.execute(text("SET LOCAL lock_timeout = '100ms'"))
            session.execute(text("SELECT count(*) FROM aws_config_rules_guidance"))
        locker.rollback()
    assert "lock timeout" in caught.value.message
    assert _control_count(clean_db) == 0


def test_connection_killed_mid_transaction_is_reported_and_rolled_back(
    clean_db: Database, database_url_str: str
) -> None:
    with pytest.raises(ConnectionFailedError) as caught, clean_db.unit_of_work() as session:
        session.add(_control("1.3"))
        session.flush()
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(database_url_str, autocommit=True) as killer:
            killed = killer.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchall()
        assert killed == [(True,)]
        session.execute(text("SELECT 1"))
    assert "connection" in caught.value.message
    assert _control_count(clean_db) == 0
