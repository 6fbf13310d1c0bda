"""db.metrics() counts exactly what happened: statements per method, pool timeouts, retries."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import ConnectionFailedError, DatabaseTimeoutError
from sentinel_db.repositories import PciControlRepository
from sentinel_db.repositories.search_terms import stem_glossary
from sentinel_db.runtime.db import Database, create_db_engine
from sentinel_db.search.glossary import default_glossary
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES
from tests.tcp_proxy import dropping_proxy


def _fresh(url: URL, **overrides: object) -> Database:
    """A Database on an engine of its own, so its counters start at zero."""
    return Database(create_db_engine(url, load_settings(None, **overrides)))


@pytest.fixture
def fresh(clean_db: Database, app_url: URL) -> Iterator[Database]:
    db = _fresh(app_url)
    try:
        yield db
    finally:
        db.engine.dispose()


def test_metrics_count_every_statement_of_each_repository_method(
    fresh: Database, db: Database
) -> None:
    with db.unit_of_work(read_only=True) as other:
        # Stemmed once per process (here on another engine), so the searches below run only
        # their own statements.
        stem_glossary(other, default_glossary())
    with fresh.unit_of_work() as session:
        PciControlRepository(session).upsert_many(
            [{"control_id": f"1.{i}", "chunk": f"firewall rule {i}"} for i in range(5)]
        )
    for i in range(7):
        with fresh.unit_of_work(read_only=True) as session:
            PciControlRepository(session).get_by_control_id(f"1.{i % 5}")
    for _ in range(3):
        with fresh.unit_of_work(read_only=True) as session:
            PciControlRepository(session).search("firewall")

    snap = fresh.metrics()
    assert snap.queries["PciControlRepository.get_by_control_id"].count == 7
    # Per search: the words with their frequencies, the glossary's equivalents, the ranking.
    assert snap.queries["PciControlRepository.search"].count == 9
    assert snap.queries["PciControlRepository.upsert_many"].count == 1
    assert snap.query_count == 17
    assert snap.connections_opened == 1  # one pooled connection, reused by every unit of work
    assert (snap.connect_retries, snap.connect_failures, snap.errors) == (0, 0, 0)
    figures = snap.queries["PciControlRepository.search"]
    assert 0 < figures.p50_ms <= figures.p95_ms <= figures.p99_ms <= figures.max_ms
    assert snap.pool is not None and snap.pool.checked_out == 0
    assert snap.cache.enabled is False


def test_a_planted_pool_timeout_is_counted_once(clean_db: Database, app_url: URL) -> None:
    db = _fresh(app_url, db_pool_size=1, db_max_overflow=0, db_timeout=0.2)
    try:
        with db.engine.connect() as held:
            held.execute(text("SELECT 1"))
            assert db.metrics().pool is not None
            assert db.metrics().pool.checked_out == 1  # type: ignore[union-attr]
            with pytest.raises(DatabaseTimeoutError), db.unit_of_work(read_only=True) as session:
                PciControlRepository(session).count()
        snap = db.metrics()
        assert snap.pool_timeouts == 1
        assert snap.connections_opened == 1
        assert snap.errors == 0
    finally:
        db.engine.dispose()


def test_a_statement_timeout_is_counted_as_a_timeout_not_an_error(fresh: Database) -> None:
    with pytest.raises(DatabaseTimeoutError), fresh.unit_of_work(read_only=True) as session:
        session.execute(text("SET LOCAL statement_timeout = '50ms'"))
        session.execute(text("SELECT pg_sleep(2)"))
    snap = fresh.metrics()
    assert (snap.statement_timeouts, snap.errors, snap.pool_timeouts) == (1, 0, 0)


def _through_proxy(url: URL, port: int) -> URL:
    query = {k: v for k, v in url.query.items() if k != "host"}  # the socket is the proxy's
    return url.set(host="127.0.0.1", port=port, query={**query, "sslmode": "disable"})


def _server_address(url: URL) -> tuple[str, int]:
    """Where the test server listens: a Unix-socket folder (embedded server) or a TCP host."""
    socket_dir = url.query.get("host")
    host = socket_dir if isinstance(socket_dir, str) else (url.host or "127.0.0.1")
    return host, url.port or 5432


def test_a_retried_connect_is_counted_exactly(clean_db: Database, app_url: URL) -> None:
    host, port = _server_address(app_url)
    with dropping_proxy(host, port, drop=2) as proxy_port:
        db = _fresh(_through_proxy(app_url, proxy_port), db_retry_count=3)
        try:
            db.health_check()
            snap = db.metrics()
        finally:
            db.engine.dispose()
    assert (snap.connect_retries, snap.connect_failures, snap.connections_opened) == (2, 0, 1)


def test_a_connect_given_up_is_counted_as_one_failure(clean_db: Database, app_url: URL) -> None:
    host, port = _server_address(app_url)
    with dropping_proxy(host, port, drop=10) as proxy_port:
        db = _fresh(_through_proxy(app_url, proxy_port), db_retry_count=1)
        try:
            with pytest.raises(ConnectionFailedError):
                db.health_check()
            snap = db.metrics()
        finally:
            db.engine.dispose()
    assert (snap.connect_retries, snap.connect_failures, snap.connections_opened) == (1, 1, 0)


def test_auth_check_json_reports_the_connection_figures(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "auth", "check", "--format", "json")
    data = json.loads(result.stdout)
    figures = data["metrics"]
    assert figures["connections_opened"] >= 1
    assert figures["connect_retries"] == 0 and figures["connect_failures"] == 0
    assert figures["pool"]["size"] == load_settings(None).db_pool_size
    assert data["latency_ms"] > 0


def test_stats_json_reports_the_last_imports_speed_duration_and_memory(
    clean_db: Database, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    imported = run_cli(capsys, "import", str(EXAMPLES), "--no-progress")
    assert imported.exit_code == 0, imported.output
    result = run_cli(capsys, "stats", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    last = {t["table"]: t["last_import"] for t in data["tables"]}["pci_dss_controls"]
    assert last["duration_seconds"] > 0
    assert last["rows_per_second"] > 0
    assert last["peak_memory_bytes"] > 10 * 1024 * 1024
    assert data["metrics"]["queries"] >= 1


def test_prometheus_collector_follows_the_naming_conventions(fresh: Database) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from sentinel_db.runtime.prometheus import register

    with fresh.unit_of_work(read_only=True) as session:
        PciControlRepository(session).count()
    registry = CollectorRegistry()
    register(fresh, registry)
    exposed = generate_latest(registry).decode()
    assert 'sentinel_db_query_duration_seconds_count{method="PciControlRepository.count"} 1.0' in (
        exposed
    )
    assert "sentinel_db_connections_opened_total 1.0" in exposed
    assert 'sentinel_db_timeouts_total{kind="pool"} 0.0' in exposed
    assert 'sentinel_db_pool_size{pool="write"}' in exposed
    assert "sentinel_db_cache_hits_total 0.0" in exposed
