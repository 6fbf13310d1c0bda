"""Engines: one pooled engine per URL, configured from the settings (pooler mode, SSL, retries).

Nothing else in sentinel-db creates an engine. This module knows nothing of the embedded server
or of migrations, so every other module may use it without an import cycle.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from sentinel_db.config import Settings, get_settings, is_pooler_url, mask_url
from sentinel_db.redact import remember_secret
from sentinel_db.runtime.direct import connect_retrying, driver_args
from sentinel_db.runtime.metrics import metrics_of


@dataclass(frozen=True)
class ConnectionPlan:
    """What the engine will do with a URL: the cleaned URL and the driver arguments."""

    url: URL
    pooler: bool
    connect_args: dict[str, Any]


def plan_connection(url: URL, settings: Settings) -> ConnectionPlan:
    """Work out driver arguments for ``url``: pooler mode, SSL default, timeouts."""
    query = {k: v for k, v in url.query.items() if k != "pgbouncer"}  # libpq rejects it
    return ConnectionPlan(
        url=url.set(query=query),
        pooler=is_pooler_url(url),
        connect_args=driver_args(url, settings),
    )


def _install_retry(engine: Engine, retries: int) -> None:
    """Retry transient connect failures with exponential backoff and jitter."""
    metrics = metrics_of(engine)
    target = mask_url(engine.url)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        return connect_retrying(
            lambda: dialect.loaded_dbapi.connect(*cargs, **cparams),
            retries=retries,
            target=target,
            count=metrics.count,
        )


def create_db_engine(url: URL, settings: Settings, *, pool: bool = True) -> Engine:
    """A new pooled engine for ``url`` configured from ``settings``."""
    remember_secret(url.password if isinstance(url.password, str) else None)
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


def engine_for_alembic() -> Engine:
    """An unpooled engine from the settings, for `alembic` run from the command line."""
    from sentinel_db.runtime import embedded

    settings = get_settings()
    url = settings.url
    if url is None:
        url = embedded.open_url(settings.embedded_dir or embedded.default_data_dir())
    return create_db_engine(url, settings, pool=False)
