"""Runtime figures of an engine, gathered from SQLAlchemy's pool and engine events.

Each engine sentinel-db creates gets one :class:`EngineMetrics`: connections opened, connect
retries and failures, pool and statement timeouts, errors, and statement latencies grouped by
the repository method that ran them (``PciControlRepository.search``; ``other`` outside any).
``Database.metrics()`` combines them with the cache's counters into a :class:`MetricsSnapshot`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc

OTHER = "other"
_SAMPLES = 2048  # latencies kept per method: enough for stable p95/p99, bounded memory
_STARTED = "sentinel_db.query_started"
_TIMEOUT_STATES = frozenset({"57014", "55P03"})

# The repository method running in this thread or task (set by the repository wrapper).
current_method: ContextVar[str | None] = ContextVar("sentinel_db_current_method", default=None)


@contextmanager
def labelled(name: str) -> Iterator[None]:
    """Attribute the statements run inside the block to ``name``."""
    token = current_method.set(name)
    try:
        yield
    finally:
        current_method.reset(token)


class _Latencies:
    __slots__ = ("count", "samples", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.samples: deque[float] = deque(maxlen=_SAMPLES)


class EngineMetrics:
    """Counters and latency samples of one engine (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections_opened = 0
        self.connect_retries = 0
        self.connect_failures = 0
        self.pool_timeouts = 0
        self.statement_timeouts = 0
        self.errors = 0
        self.embedding_fallbacks = 0
        self._queries: dict[str, _Latencies] = {}

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name`` (an attribute of this object)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def query(self, method: str, seconds: float) -> None:
        """Record one statement of ``method`` that took ``seconds``."""
        with self._lock:
            entry = self._queries.get(method)
            if entry is None:
                entry = self._queries[method] = _Latencies()
            entry.count += 1
            entry.total += seconds
            entry.samples.append(seconds)

    def queries(self) -> dict[str, tuple[int, float, list[float]]]:
        """Per method: statement count, total seconds, recent latency samples."""
        with self._lock:
            return {k: (v.count, v.total, list(v.samples)) for k, v in self._queries.items()}


_registry: weakref.WeakKeyDictionary[Engine, EngineMetrics] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def metrics_of(engine: Engine) -> EngineMetrics:
    """The metrics of ``engine``, listening to its events from the first call on."""
    with _registry_lock:
        found = _registry.get(engine)
        if found is None:
            found = _registry[engine] = EngineMetrics()
            _listen(engine, found)
        return found


def _listen(engine: Engine, metrics: EngineMetrics) -> None:
    @event.listens_for(engine, "connect")
    def _opened(dbapi_conn: Any, record: Any) -> None:
        metrics.count("connections_opened")

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, stmt: Any, params: Any, ctx: Any, many: bool) -> None:
        conn.info[_STARTED] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, stmt: Any, params: Any, ctx: Any, many: bool) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is not None:
            metrics.query(current_method.get() or OTHER, time.perf_counter() - started)

    @event.listens_for(engine, "handle_error")
    def _error(context: Any) -> None:
        if context.connection is None:
            return  # a failed connect: the retry hook counts those
        context.connection.info.pop(_STARTED, None)
        if getattr(context, "is_pre_ping", False):
            return  # a stale pooled connection found and replaced: not the caller's error
        state = getattr(context.original_exception, "sqlstate", None)
        metrics.count("statement_timeouts" if state in _TIMEOUT_STATES else "errors")


def note_failure(engine: Engine, exc: BaseException) -> None:
    """Count a pool timeout found in ``exc``'s chain (the pool has no event for it)."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return
        if isinstance(seen, sa_exc.TimeoutError):
            metrics_of(engine).count("pool_timeouts")
            return
        seen = seen.__cause__ or seen.__context__


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass(frozen=True)
class QueryFigures:
    """Statements one repository method ran, and their latency (milliseconds)."""

    count: int
    total_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class PoolFigures:
    """The connection pool of one engine right now."""

    size: int
    checked_out: int
    overflow: int
    max_overflow: int
    timeout_seconds: float


@dataclass(frozen=True)
class CacheFigures:
    """The repository cache's counters (zeros when the cache is off)."""

    enabled: bool = False
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    invalidations: int = 0
    version_checks: int = 0
    entries: int = 0
    bytes: int = 0
    max_entries: int = 0
    max_bytes: int = 0


@dataclass(frozen=True)
class MetricsSnapshot:
    """What :meth:`Database.metrics` returns: pools, connections, errors, queries, cache."""

    pool: PoolFigures | None
    read_pool: PoolFigures | None
    connections_opened: int
    connect_retries: int
    connect_failures: int
    pool_timeouts: int
    statement_timeouts: int
    errors: int
    queries: dict[str, QueryFigures] = field(default_factory=dict)
    cache: CacheFigures = field(default_factory=CacheFigures)
    # Searches that answered lexically because the embedding provider failed or was slow.
    embedding_fallbacks: int = 0

    @property
    def query_count(self) -> int:
        """Statements run, all methods together."""
        return sum(q.count for q in self.queries.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The figures that mean something for one short-lived command (JSON-ready)."""
        return {
            "pool": asdict(self.pool) if self.pool else None,
            "connections_opened": self.connections_opened,
            "connect_retries": self.connect_retries,
            "connect_failures": self.connect_failures,
            "pool_timeouts": self.pool_timeouts,
            "statement_timeouts": self.statement_timeouts,
            "errors": self.errors,
            "embedding_fallbacks": self.embedding_fallbacks,
            "queries": self.query_count,
            "query_ms": round(sum(q.total_ms for q in self.queries.values()), 3),
        }


def pool_figures(engine: Engine) -> PoolFigures | None:
    """Size and use of ``engine``'s pool (None for an unpooled engine)."""
    pool: Any = engine.pool
    if not hasattr(pool, "checkedout"):
        return None
    return PoolFigures(
        size=int(pool.size()),
        checked_out=int(pool.checkedout()),
        overflow=max(0, int(pool.overflow())),
        max_overflow=int(getattr(pool, "_max_overflow", 0)),
        timeout_seconds=float(pool.timeout()),
    )


def snapshot(engines: Iterable[Engine], *, cache: CacheFigures | None = None) -> MetricsSnapshot:
    """Figures of ``engines`` (write engine first, then a distinct read engine) and the cache."""
    unique = list(dict.fromkeys(engines))
    all_metrics = [metrics_of(e) for e in unique]
    merged: dict[str, tuple[int, float, list[float]]] = {}
    for m in all_metrics:
        for name, (count, total, samples) in m.queries().items():
            c, t, s = merged.get(name, (0, 0.0, []))
            merged[name] = (c + count, t + total, s + samples)
    queries = {}
    for name, (count, total, samples) in sorted(merged.items()):
        ordered = sorted(samples)
        queries[name] = QueryFigures(
            count=count,
            total_ms=round(total * 1000, 3),
            p50_ms=round(_percentile(ordered, 0.50) * 1000, 3),
            p95_ms=round(_percentile(ordered, 0.95) * 1000, 3),
            p99_ms=round(_percentile(ordered, 0.99) * 1000, 3),
            max_ms=round((ordered[-1] if ordered else 0.0) * 1000, 3),
        )

    def summed(name: str) -> int:
        return sum(int(getattr(m, name)) for m in all_metrics)

    return MetricsSnapshot(
        pool=pool_figures(unique[0]) if unique else None,
        read_pool=pool_figures(unique[1]) if len(unique) > 1 else None,
        connections_opened=summed("connections_opened"),
        connect_retries=summed("connect_retries"),
        connect_failures=summed("connect_failures"),
        pool_timeouts=summed("pool_timeouts"),
        statement_timeouts=summed("statement_timeouts"),
        errors=summed("errors"),
        embedding_fallbacks=summed("embedding_fallbacks"),
        queries=queries,
        cache=cache or CacheFigures(),
    )
