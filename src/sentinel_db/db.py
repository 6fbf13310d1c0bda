"""Engines, sessions and the unit of work. Nothing else in sentinel-db creates an engine."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sentinel_db.cache import RepositoryCache
from sentinel_db.cache import attach as attach_cache
from sentinel_db.config import Settings, get_settings, is_local_url, is_pooler_url, mask_url
from sentinel_db.errors import (
    ConnectionFailedError,
    DatabaseTimeoutError,
    SentinelDBError,
    describe_connect_error,
    is_permanent_connect_error,
    missing_at_connect,
    translate,
)
from sentinel_db.metrics import MetricsSnapshot, metrics_of, note_failure, snapshot

log = logging.getLogger("sentinel_db.db")

APPLICATION_NAME = "sentinel-db"
_BACKOFF_BASE = 0.25
_BACKOFF_CAP = 8.0


@dataclass(frozen=True)
class ConnectionPlan:
    """What the engine will do with a URL: the cleaned URL and the driver arguments."""

    url: URL
    pooler: bool
    connect_args: dict[str, Any]


def plan_connection(url: URL, settings: Settings) -> ConnectionPlan:
    """Work out driver arguments for ``url``: pooler mode, SSL default, timeouts."""
    pooler = is_pooler_url(url)
    query = {k: v for k, v in url.query.items() if k != "pgbouncer"}  # libpq rejects it
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, int(settings.db_timeout)),
        "application_name": APPLICATION_NAME,
    }
    if pooler:
        # A transaction pooler hands each transaction to any server connection; prepared
        # statements made on one are missing on the next, so psycopg must not prepare.
        connect_args["prepare_threshold"] = None
    if "sslmode" not in query and not is_local_url(url):
        connect_args["sslmode"] = "require"
    return ConnectionPlan(url=url.set(query=query), pooler=pooler, connect_args=connect_args)


def _install_retry(engine: Engine, retries: int) -> None:
    """Retry transient connect failures with exponential backoff and jitter."""
    metrics = metrics_of(engine)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        attempt = 0
        while True:
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except psycopg.OperationalError as exc:
                if is_permanent_connect_error(exc):
                    metrics.count("connect_failures")
                    raise
                if attempt >= retries:
                    metrics.count("connect_failures")
                    # Log the last try too, so the log accounts for every attempt made.
                    log.warning(
                        "connection attempt %d of %d failed (%s); giving up",
                        attempt + 1,
                        retries + 1,
                        describe_connect_error(exc),
                    )
                    raise
                delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt) * (0.5 + random.random())
                attempt += 1
                metrics.count("connect_retries")
                log.warning(
                    "connection attempt %d failed (%s); retrying in %.2fs",
                    attempt,
                    describe_connect_error(exc),
                    delay,
                )
                time.sleep(delay)


def create_db_engine(url: URL, settings: Settings, *, pool: bool = True) -> Engine:
    """A new pooled engine for ``url`` configured from ``settings``."""
    plan = plan_connection(url, settings)
    kwargs: dict[str, Any] = {
        "connect_args": plan.connect_args,
        "pool_pre_ping": True,
        "echo": False,
        "hide_parameters": True,
    }
    if pool:
        kwargs.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_timeout,
        )
    else:
        from sqlalchemy.pool import NullPool

        kwargs["poolclass"] = NullPool
    engine = create_engine(plan.url, **kwargs)
    engine.info_pooler = plan.pooler  # type: ignore[attr-defined]
    _install_retry(engine, settings.db_retry_count)
    if settings.enable_sql_logging:
        # Statements only: hide_parameters keeps values (and anything secret in them) out.
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    return engine


_engines: dict[tuple[str, int, int, float, int], Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: URL, settings: Settings | None = None) -> Engine:
    """The process-wide pooled engine for ``url`` (one per URL and pool settings)."""
    settings = settings or get_settings()
    key = (
        url.render_as_string(hide_password=False),
        settings.db_pool_size,
        settings.db_max_overflow,
        settings.db_timeout,
        settings.db_retry_count,
    )
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = create_db_engine(url, settings)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (for tests and forked workers)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@dataclass(frozen=True)
class HealthReport:
    """Result of :meth:`Database.health_check`."""

    masked_url: str
    server_version: str
    user: str
    database: str
    ssl: bool
    pooler: bool
    latency_ms: float


class Database:
    """A database sentinel-db talks to: a write engine, an optional read engine, sessions."""

    def __init__(
        self,
        engine: Engine,
        *,
        read_engine: Engine | None = None,
        cache: RepositoryCache | None = None,
    ) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine
        self.cache = cache
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(bind=self.read_engine, expire_on_commit=False)
        for counted in (engine, self.read_engine):
            metrics_of(counted)  # engines made elsewhere are counted from here on

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, cache: bool | None = None
    ) -> Database:
        """Open the configured database, or the embedded one when no URL is set.

        ``cache`` turns the repository cache on or off (default: ``DB_CACHE``).
        """
        settings = settings or get_settings()
        url = settings.url
        if url is None:
            from sentinel_db.embedded import open_embedded_url

            url = open_embedded_url(settings)
        read_url = settings.read_url
        return cls(
            get_engine(url, settings),
            read_engine=get_engine(read_url, settings) if read_url is not None else None,
            cache=_cache_from(settings, cache),
        )

    @classmethod
    def from_url(
        cls, url: str | URL, settings: Settings | None = None, *, cache: bool | None = None
    ) -> Database:
        """Open a database by URL (settings supply pool sizes, timeouts and cache bounds)."""
        from sentinel_db.config import parse_database_url

        settings = settings or get_settings()
        parsed = url if isinstance(url, URL) else parse_database_url(url)
        return cls(get_engine(parsed, settings), cache=_cache_from(settings, cache))

    @property
    def url(self) -> URL:
        """The write URL."""
        return self.engine.url

    @property
    def masked_url(self) -> str:
        """The write URL with the password hidden."""
        return mask_url(self.engine.url)

    @property
    def is_pooler(self) -> bool:
        """True when connected through a transaction pooler (prepared statements off)."""
        return bool(getattr(self.engine, "info_pooler", False))

    def session(self, *, read_only: bool = False) -> Session:
        """A new session; read-only work goes to the replica when one is configured."""
        return (self._read_sessions if read_only else self._sessions)()

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        session = self.session(read_only=read_only)
        if read_only and self.cache is not None:
            # Writing work reads its own uncommitted rows, so only read-only work uses the cache.
            attach_cache(session, self.cache)
        try:
            yield session
            if read_only:
                session.rollback()
            else:
                session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            note_failure(self.read_engine if read_only else self.engine, exc)
            raise translate(exc) from exc
        except BaseException as exc:
            session.rollback()
            note_failure(self.read_engine if read_only else self.engine, exc)
            raise
        finally:
            session.close()

    def metrics(self) -> MetricsSnapshot:
        """Pool use, connections, retries, timeouts, errors, queries per method, cache counters.

        Counters belong to the engines, which every ``Database`` on the same URL shares.
        """
        figures = self.cache.figures() if self.cache is not None else None
        return snapshot([self.engine, self.read_engine], cache=figures)

    def health_check(self) -> HealthReport:
        """One round trip: server version, user, SSL and latency.

        Raises:
            ConnectionFailedError: the server cannot be reached or refuses us.
            DatabaseTimeoutError: every pooled connection stayed busy for ``DB_TIMEOUT``.
        """
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT current_setting('server_version'), current_user, current_database(),"
                        " coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)"
                    )
                ).one()
        except SQLAlchemyError as exc:
            note_failure(self.engine, exc)
            raise _connect_failure(exc, self.masked_url) from exc
        return HealthReport(
            masked_url=self.masked_url,
            server_version=str(row[0]),
            user=str(row[1]),
            database=str(row[2]),
            ssl=bool(row[3]),
            pooler=self.is_pooler,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def _cache_from(settings: Settings, wanted: bool | None) -> RepositoryCache | None:
    on = settings.db_cache if wanted is None else wanted
    if not on:
        return None
    return RepositoryCache(
        max_entries=settings.db_cache_max_entries, max_bytes=settings.db_cache_max_bytes
    )


def _connect_failure(exc: SQLAlchemyError, masked: str) -> SentinelDBError:
    orig = getattr(exc, "orig", exc)
    reason = describe_connect_error(orig)
    hints = {
        "authentication failed": "check the user and password in DATABASE_URL",
        "database does not exist": "create the database or fix its name in DATABASE_URL",
        "database or role does not exist": "check the database and user names in DATABASE_URL",
        "unknown host": "check the host name in DATABASE_URL",
        "connection refused": "is PostgreSQL running and listening on that host and port?",
        "connection timed out": "check the network path, or raise DB_TIMEOUT",
    }
    translated = translate(exc, action="connect")
    if isinstance(translated, DatabaseTimeoutError):
        # The server is fine; every pooled connection is busy. Saying "cannot connect" would mislead.
        return translated
    if not isinstance(translated, ConnectionFailedError):
        return ConnectionFailedError(f"cannot connect to {masked}: {reason}")
    missing = missing_at_connect(orig)
    if missing is not None:
        return ConnectionFailedError(
            f"cannot connect to {masked}: {missing}",
            hint="create it, or fix the name in DATABASE_URL",
        )
    return ConnectionFailedError(
        f"cannot connect to {masked}: {reason}",
        hint=hints.get(reason, "check DATABASE_URL and that the server is reachable"),
    )
