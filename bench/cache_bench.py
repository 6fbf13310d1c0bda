"""Repeated reads with and without the repository cache (a benchmark, not a test).

Loads the synthetic data of ``query_bench.py`` (default 1,000,000 controls), then times, as a
service would run them, one read-only unit of work per call:

- a key lookup over a working set of ``--keys`` control ids, read again and again;
- a search over a set of ``--queries`` texts, repeated;
- the data-version check alone, which is what a unit of work served wholly from memory costs;
- a cache miss (the cache emptied first), which is where an entry's tables are found from the
  statements the read sends;
- a mixed workload over the three tables with a committed write every ``--write-every`` units,
  under the two ways an entry can depend on tables: on the tables its read queried (what the
  cache does) or on every reference table (simulated by emptying the cache at each write).

Each is measured with the cache off and with a warm cache; p50/p95 in milliseconds. The same
options as ``query_bench.py`` choose the database (``--database-url`` + ``--reuse`` keep the
loaded data between runs).

    .venv/bin/python bench/cache_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from query_bench import (
    _control_id,
    _database,
    _load,
    _reused,
    _rule_name,
    add_database_options,
)

from sentinel_db.config import load_settings
from sentinel_db.repositories import (
    AwsConfigRuleRepository,
    PciAwsConfigMappingRepository,
    PciControlRepository,
)
from sentinel_db.runtime.cache import RepositoryCache, of_session
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations


def _lookup(db: Database, key: str) -> None:
    with db.unit_of_work(read_only=True) as session:
        PciControlRepository(session).get_by_control_id(key)


def _search(db: Database, text: str) -> None:
    with db.unit_of_work(read_only=True) as session:
        PciControlRepository(session).search(text, 10)


def _check_only(db: Database) -> None:
    with db.unit_of_work(read_only=True) as session:
        view = of_session(session)
        assert view is not None
        view.versions()


def _select_one(db: Database) -> None:
    with db.unit_of_work(read_only=True) as session:
        session.execute(text("SELECT 1"))


def _cold_lookup(db: Database, key: str) -> None:
    # Its own cache (emptied each time), so the warm cases keep theirs.
    assert db.cache is not None
    db.cache.clear()
    _lookup(db, key)


_MIXED_TABLES = ("pci_dss_controls", "aws_config_rules_guidance", "pci_aws_config_rule_mappings")


def _mixed(
    db: Database, args: argparse.Namespace, info: dict[str, Any], *, every_table: bool
) -> tuple[float, float]:
    """Hit ratio and ms per unit of a read mix with a committed write every few units."""
    assert db.cache is not None
    rng = random.Random(args.seed + 3)
    keys = [_control_id(rng.randrange(args.rows)) for _ in range(args.mixed_keys)]
    rules = [_rule_name(rng.randrange(info["rules"])) for _ in range(args.mixed_keys)]
    db.cache.clear()
    before = db.cache.figures()
    started = time.perf_counter()
    for unit in range(args.mixed):
        if unit and unit % args.write_every == 0:
            table = _MIXED_TABLES[unit // args.write_every % 3]
            with db.unit_of_work() as session:
                # ``table`` is one of the names above; the update changes nothing but advances
                # the table's data version, as any committed write does.
                session.execute(
                    text(f"UPDATE {table} SET id = id WHERE id = (SELECT id FROM {table} LIMIT 1)")
                )
            if every_table:
                db.cache.clear()
        with db.unit_of_work(read_only=True) as session:
            pick = rng.randrange(4)
            if pick == 0:
                PciControlRepository(session).get_by_control_id(rng.choice(keys))
            elif pick == 1:
                AwsConfigRuleRepository(session).find_by_key(rng.choice(rules))
            elif pick == 2:
                PciAwsConfigMappingRepository(session).rules_for_control(rng.choice(keys))
            else:
                PciAwsConfigMappingRepository(session).rules_for_control(
                    rng.choice(keys), with_guidance=True
                )
    elapsed = (time.perf_counter() - started) * 1000 / args.mixed
    after = db.cache.figures()
    hits, misses = after.hits - before.hits, after.misses - before.misses
    return hits / max(1, hits + misses), elapsed


def _bench(plain: Database, cached: Database, args: argparse.Namespace, vocab: list[str]) -> None:
    rng = random.Random(args.seed + 2)
    cold = Database(plain.engine, cache=RepositoryCache())
    keys = [_control_id(rng.randrange(args.rows)) for _ in range(args.keys)]
    texts = [
        rng.choice(vocab) if n % 2 else f"{rng.choice(vocab)} {rng.choice(vocab[:500])}"
        for n in range(args.queries)
    ]
    warm = [lambda k=k: _lookup(cached, k) for k in keys] + [
        lambda t=t: _search(cached, t) for t in texts
    ]
    for call in warm:  # fill the cache: every later call is a hit
        call()
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("key lookup, no cache", lambda: _lookup(plain, rng.choice(keys))),
        ("key lookup, warm cache", lambda: _lookup(cached, rng.choice(keys))),
        ("search, no cache", lambda: _search(plain, rng.choice(texts))),
        ("search, warm cache", lambda: _search(cached, rng.choice(texts))),
        ("version check alone", lambda: _check_only(cached)),
        ("key lookup, cache miss", lambda: _cold_lookup(cold, rng.choice(keys))),
        ("SELECT 1 alone (baseline)", lambda: _select_one(plain)),
    ]
    # Round robin, so that whatever else the machine does slows every case alike.
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for round_ in range(args.iterations + 20):
        for name, call in cases:
            started = time.perf_counter()
            call()
            if round_ >= 20:  # the first rounds warm the pool and the server's caches
                samples[name].append((time.perf_counter() - started) * 1000)
    print(f"{'one unit of work':32} {'p50 ms':>8} {'p95 ms':>8}")
    for name, times in samples.items():
        p95 = statistics.quantiles(times, n=100)[94]
        print(f"{name:32} {statistics.median(times):8.3f} {p95:8.3f}")
    # Many reads in one unit of work: the version check is paid once, each hit is a dict lookup.
    print(f"{'one call, inside a unit of work':32} {'p50 ms':>8} {'p95 ms':>8}")
    for name, db in (("key lookup, no cache", plain), ("key lookup, warm cache", cached)):
        with db.unit_of_work(read_only=True) as session:
            controls = PciControlRepository(session)
            times = []
            for _ in range(args.iterations):
                key = rng.choice(keys)
                started = time.perf_counter()
                controls.get_by_control_id(key)
                times.append((time.perf_counter() - started) * 1000)
            session.expunge_all()
        p95 = statistics.quantiles(times, n=100)[94]
        print(f"{name:32} {statistics.median(times):8.3f} {p95:8.3f}")
    check = cached.metrics().queries["cache.version_check"]
    figures = cached.metrics().cache
    print(
        f"version-check statement: p50 {check.p50_ms:.3f} ms, p95 {check.p95_ms:.3f} ms;"
        f" cache hits {figures.hits}, misses {figures.misses}, entries {figures.entries},"
        f" {figures.bytes / 1024:.0f} kB"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, load (or reuse) the data, print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic controls to load")
    parser.add_argument("--iterations", type=int, default=1000, help="timed calls per case")
    parser.add_argument("--keys", type=int, default=1000, help="distinct control ids looked up")
    parser.add_argument("--queries", type=int, default=50, help="distinct search texts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mixed", type=int, default=4000, help="units of the mixed workload")
    parser.add_argument("--write-every", type=int, default=50, help="units between writes")
    parser.add_argument(
        "--mixed-keys", type=int, default=100, help="distinct keys of the mixed workload"
    )
    add_database_options(parser)
    args = parser.parse_args(argv)
    with _database(args.database_url) as raw_url:
        url = make_url(raw_url).set(drivername="postgresql+psycopg")
        settings = load_settings(None)
        plain = Database.from_url(url, settings)
        migrations.upgrade(plain.engine)
        cached = Database(plain.engine, cache=RepositoryCache())
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq) as conn:
            present = conn.execute("SELECT count(*) FROM pci_dss_controls").fetchone()
        if args.reuse and present and present[0] == args.rows:
            info = _reused(args.rows, args.seed)
        else:
            print(f"loading {args.rows:,} controls ...", file=sys.stderr, flush=True)
            info = _load(libpq, args.rows, args.seed)
        _bench(plain, cached, args, info["vocab"])
        print(
            f"mixed reads of three tables, {args.mixed} units, a write every"
            f" {args.write_every}: {'entry depends on':24} {'hit ratio':>9} {'ms/unit':>8}"
        )
        # Twice each, alternating, so that neither gains from running second.
        for label, every in (("the tables it read", False), ("every reference table", True)) * 2:
            ratio, per_unit = _mixed(cached, args, info, every_table=every)
            print(f"{'':70} {label:24} {ratio:9.3f} {per_unit:8.3f}")
        plain.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
