"""The database: engines for reads and writes, sessions, and the unit of work.

Engines come from :mod:`sentinel_db.runtime.engine`; with no URL configured, :meth:`Database.from_settings`
starts the embedded server and migrates it on first use.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sentinel_db.config import Settings, get_settings, mask_url
from sentinel_db.errors import (
    translate,
)
from sentinel_db.redact import library_logger
from sentinel_db.runtime.cache import RepositoryCache
from sentinel_db.runtime.cache import attach as attach_cache
from sentinel_db.runtime.direct import connect_failure
from sentinel_db.runtime.engine import (  # re-exported: callers know them from here
    ConnectionPlan,
    create_db_engine,
    dispose_engines,
    get_engine,
    plan_connection,
)
from sentinel_db.runtime.metrics import MetricsSnapshot, metrics_of, note_failure, snapshot
from sentinel_db.runtime.query_vectors import SESSION_KEY as EMBEDDER_KEY
from sentinel_db.runtime.query_vectors import QueryEmbedder

log = library_logger("sentinel_db.db")

__all__ = [
    "ConnectionPlan",
    "Database",
    "HealthReport",
    "create_db_engine",
    "dispose_engines",
    "get_engine",
    "plan_connection",
]


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
        embedder: QueryEmbedder | None = None,
    ) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine
        self.cache = cache
        # Searches in this database's sessions embed the question with it (hybrid by default).
        self.embedder = embedder
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
            url = _open_embedded(settings)
        read_url = settings.read_url
        return cls(
            get_engine(url, settings),
            read_engine=get_engine(read_url, settings) if read_url is not None else None,
            cache=_cache_from(settings, cache),
            embedder=QueryEmbedder.from_settings(settings),
        )

    @classmethod
    def from_url(
        cls, url: str | URL, settings: Settings | None = None, *, cache: bool | None = None
    ) -> Database:
        """Open a database by URL (settings supply pool sizes, timeouts and cache bounds)."""
        from sentinel_db.config import parse_database_url

        settings = settings or get_settings()
        parsed = url if isinstance(url, URL) else parse_database_url(url)
        return cls(
            get_engine(parsed, settings),
            cache=_cache_from(settings, cache),
            embedder=QueryEmbedder.from_settings(settings),
        )

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
        session = (self._read_sessions if read_only else self._sessions)()
        if self.embedder is not None:
            session.info[EMBEDDER_KEY] = self.embedder
        return session

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
            raise connect_failure(exc, self.masked_url) from exc
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


def _open_embedded(settings: Settings) -> URL:
    """Start (or reuse) the embedded server; a brand-new data folder is migrated to head.

    An existing folder is never migrated implicitly: what the user did to it (a rollback, say)
    stays done until they run ``sentinel-db migrate``. A configured database is never migrated
    implicitly either.
    """
    from sentinel_db.runtime import embedded

    data_dir = settings.embedded_dir or embedded.default_data_dir()
    created = not embedded.is_initialised(data_dir)
    url = embedded.open_url(data_dir)
    embedded.announce(data_dir)
    if created:
        from sentinel_db.schema import migrations

        engine = create_db_engine(url, settings, pool=False)
        try:
            migrations.upgrade(engine, rls_anon_read=settings.rls_anon_read)
        finally:
            engine.dispose()
    return url
