"""Expose ``Database.metrics()`` to Prometheus (``pip install 'sentinel-db[prometheus]'``).

A collector reads a fresh snapshot on every scrape, so nothing is counted twice and nothing
runs between scrapes::

    from prometheus_client import start_http_server
    from sentinel_db.runtime.prometheus import register

    register(db)
    start_http_server(9108)
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from sentinel_db.runtime.db import Database
from sentinel_db.runtime.metrics import MetricsSnapshot

PREFIX = "sentinel_db"


class SentinelDBCollector(Collector):
    """Pool, connection, timeout, error, query-latency and cache figures of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        """The metric families of one snapshot (called by the registry on every scrape)."""
        snap = self.db.metrics()
        yield from _pool(snap)
        for name, doc, value in (
            ("connections_opened", "Database connections opened.", snap.connections_opened),
            (
                "connect_retries",
                "Connection attempts retried after a failure.",
                snap.connect_retries,
            ),
            ("connect_failures", "Connections given up on.", snap.connect_failures),
            ("errors", "Statements that failed (timeouts excluded).", snap.errors),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)
        timeouts = CounterMetricFamily(
            f"{PREFIX}_timeouts", "Pool waits and statements that timed out.", labels=["kind"]
        )
        timeouts.add_metric(["pool"], snap.pool_timeouts)
        timeouts.add_metric(["statement"], snap.statement_timeouts)
        yield timeouts
        yield _latency(snap)
        yield from _cache(snap)


def _pool(snap: MetricsSnapshot) -> Iterator[Metric]:
    for role, pool in (("write", snap.pool), ("read", snap.read_pool)):
        if pool is None:
            continue
        for name, doc, value in (
            ("pool_size", "Connections the pool keeps.", pool.size),
            ("pool_checked_out_connections", "Connections in use.", pool.checked_out),
            ("pool_overflow_connections", "Connections beyond the pool size.", pool.overflow),
        ):
            gauge = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=["pool"])
            gauge.add_metric([role], value)
            yield gauge


def _latency(snap: MetricsSnapshot) -> Metric:
    name = f"{PREFIX}_query_duration_seconds"
    summary = Metric(name, "Statement latency by repository method.", "summary")
    for method, q in snap.queries.items():
        for quantile, ms in (("0.5", q.p50_ms), ("0.95", q.p95_ms), ("0.99", q.p99_ms)):
            summary.add_sample(name, {"method": method, "quantile": quantile}, ms / 1000)
        summary.add_sample(f"{name}_count", {"method": method}, q.count)
        summary.add_sample(f"{name}_sum", {"method": method}, q.total_ms / 1000)
    return summary


def _cache(snap: MetricsSnapshot) -> Iterator[Metric]:
    c = snap.cache
    for name, doc, value in (
        ("cache_hits", "Repository reads served from the cache.", c.hits),
        ("cache_misses", "Repository reads that went to the database.", c.misses),
        ("cache_evictions", "Entries evicted to stay within the bounds.", c.evictions),
        ("cache_invalidations", "Entries dropped because their table changed.", c.invalidations),
        ("cache_version_checks", "Data-version checks (one per unit of work).", c.version_checks),
    ):
        yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)
    yield GaugeMetricFamily(f"{PREFIX}_cache_entries", "Entries in the cache.", value=c.entries)
    yield GaugeMetricFamily(f"{PREFIX}_cache_bytes", "Approximate cache size.", value=c.bytes)


def register(db: Database, registry: CollectorRegistry = REGISTRY) -> SentinelDBCollector:
    """Add a collector for ``db`` to ``registry`` (the default one unless given)."""
    collector = SentinelDBCollector(db)
    registry.register(collector)
    return collector
