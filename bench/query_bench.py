"""Latency of the repository queries on a large synthetic dataset (a benchmark, not a test).

Loads ``--rows`` synthetic controls (default 1,000,000), one guidance rule per 100 controls and a
mapping for 40 % of the controls (100 controls per requirement id) into a throwaway database with COPY, then times each query
through the repositories (ORM materialisation included) and prints p50/p95 in milliseconds.

Without ``--database-url`` (or ``SENTINEL_BENCH_DATABASE_URL``) a new database is created on
postgresql://postgres@127.0.0.1:5432/postgres and dropped at the end; a given database is migrated
and must be empty.

    .venv/bin/python bench/query_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

from sentinel_db.config import load_settings
from sentinel_db.repositories import (
    AwsConfigRuleRepository,
    PciAwsConfigMappingRepository,
    PciControlRepository,
)
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.schema import migrations

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CONTROLS_PER_REQUIREMENT = 100
CONTROLS_PER_RULE = 100
MAPPED_SHARE = 0.4
CATEGORIES = 40
PAGE = 20
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "men",
    "sa",
    "lo",
    "vi",
    "dre",
    "pan",
    "tur",
    "shi",
    "el",
    "gor",
    "ax",
    "mu",
    "ne",
    "bel",
    "cor",
    "dan",
    "fi",
]


def _vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _text(rng: random.Random, vocab: list[str], words: int) -> str:
    # Zipf-like: low indexes are common words, high ones rare, as in real prose.
    return " ".join(
        vocab[min(len(vocab) - 1, int(rng.paretovariate(1.1)) - 1)]
        if rng.random() < 0.5
        else rng.choice(vocab)
        for _ in range(words)
    )


def _control_id(i: int) -> str:
    return f"{i // 1_000_000 + 1}.{(i // 1000) % 1000}.{i % 1000}"


def _rule_name(j: int) -> str:
    return f"synthetic-rule-{j}-check"


def _load(url: str, rows: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    rules = max(1, rows // CONTROLS_PER_RULE)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        tables = ("pci_dss_controls", "aws_config_rules_guidance", "pci_aws_config_rule_mappings")
        # Build secondary indexes after the load: much faster than maintaining them row by row.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname LIKE 'ix\\_%%'",
            (list(tables),),
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.cursor() as cur:
            with cur.copy(
                "COPY pci_dss_controls (id, control_id, requirement, chunk, metadata) FROM STDIN"
            ) as copy:
                for i in range(rows):
                    requirement = i // CONTROLS_PER_REQUIREMENT
                    metadata = {
                        "requirements_id": str(requirement),
                        "control_category": f"category-{i % CATEGORIES}",
                        "pci_dss_version": "3.2.1",
                        "aws_config_mapped": i % 10 < MAPPED_SHARE * 10,
                    }
                    copy.write_row(
                        (
                            uuid.uuid4(),
                            _control_id(i),
                            f"Requirement {requirement}: {_text(rng, vocab, 6)}",
                            _text(rng, vocab, 24),
                            json.dumps(metadata),
                        )
                    )
            with cur.copy(
                "COPY aws_config_rules_guidance (id, config_rule, chunk, metadata) FROM STDIN"
            ) as copy:
                for j in range(rules):
                    controls = [_control_id(rng.randrange(rows)) for _ in range(3)]
                    copy.write_row(
                        (
                            uuid.uuid4(),
                            _rule_name(j),
                            _text(rng, vocab, 30),
                            json.dumps({"control_ids": controls}),
                        )
                    )
            with cur.copy(
                "COPY pci_aws_config_rule_mappings (id, control_id, config_rules) FROM STDIN"
            ) as copy:
                for i in range(rows):
                    if i % 10 >= MAPPED_SHARE * 10:
                        continue
                    names = {_rule_name(rng.randrange(rules)) for _ in range(rng.randint(1, 5))}
                    entries: list[Any] = []
                    for n, name in enumerate(sorted(names)):
                        # All three spellings occur, so the reverse lookup needs each branch.
                        entries.append([name, {"rule": name}, {"rule_name": name}][(i + n) % 3])
                    copy.write_row((uuid.uuid4(), _control_id(i), json.dumps(entries)))
        loaded = time.perf_counter() - started
        for _, definition in indexes:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE")
    return {
        "rules": rules,
        "vocab": vocab,
        "load_seconds": loaded,
        "total_seconds": time.perf_counter() - started,
    }


def _reused(rows: int, seed: int) -> dict[str, Any]:
    """What _load would return for data it loaded earlier with the same rows and seed."""
    vocab = _vocabulary(random.Random(seed))
    return {
        "rules": max(1, rows // CONTROLS_PER_RULE),
        "vocab": vocab,
        "load_seconds": 0.0,
        "total_seconds": 0.0,
    }


def _question(rng: random.Random, vocab: list[str], words: int) -> str:
    """A question of ``words`` content words, half common and half drawn from the whole vocabulary."""
    chosen = [rng.choice(vocab[:500]) if i % 2 else rng.choice(vocab) for i in range(words)]
    return "how do we " + " ".join(chosen) + "?"


def _time(call: Callable[[], Any], iterations: int) -> tuple[float, float, int]:
    for _ in range(min(20, iterations)):
        call()
    samples = []
    results = 0
    for _ in range(iterations):
        started = time.perf_counter()
        out = call()
        samples.append((time.perf_counter() - started) * 1000)
        results += len(out) if isinstance(out, list) else 1
    cuts = statistics.quantiles(samples, n=100)
    return statistics.median(samples), cuts[94], results // iterations


def _bench(db: Database, rows: int, info: dict[str, Any], iterations: int, seed: int) -> None:
    rng = random.Random(seed + 1)
    vocab: list[str] = info["vocab"]
    requirements = max(1, rows // CONTROLS_PER_REQUIREMENT)
    with db.unit_of_work(read_only=True) as session:
        controls = PciControlRepository(session)
        rules = AwsConfigRuleRepository(session)
        mappings = PciAwsConfigMappingRepository(session)
        cases: list[tuple[str, str, Callable[[], Any]]] = [
            (
                "get by control id",
                "key",
                lambda: controls.get_by_control_id(_control_id(rng.randrange(rows))),
            ),
            (
                f"by requirement (page of {PAGE})",
                "key",
                lambda: controls.by_requirement(str(rng.randrange(requirements)), limit=PAGE),
            ),
            (
                f"by requirement (all {CONTROLS_PER_REQUIREMENT})",
                "info",
                lambda: controls.by_requirement(str(rng.randrange(requirements))),
            ),
            (
                f"metadata_contains (page of {PAGE})",
                "key",
                lambda: controls.metadata_contains(
                    {
                        "requirements_id": str(rng.randrange(requirements)),
                        "aws_config_mapped": True,
                    },
                    limit=PAGE,
                ),
            ),
            *(
                (
                    f"search, {n}-word question",
                    "question",
                    (lambda n=n: controls.search(_question(rng, vocab, n), 10)),
                )
                for n in (1, 2, 4, 8)
            ),
            (
                "controls_for_rule",
                "search",
                lambda: mappings.controls_for_rule(_rule_name(rng.randrange(info["rules"]))),
            ),
            (
                "rules for control (metadata)",
                "key",
                lambda: rules.for_control(_control_id(rng.randrange(rows))),
            ),
        ]
        print(f"{'query':34} {'p50 ms':>8} {'p95 ms':>8} {'target':>8} {'rows/call':>10}")
        for name, kind, call in cases:
            p50, p95, per_call = _time(call, iterations)
            session.expunge_all()
            target = {"key": 2.0, "search": 20.0, "question": 50.0}.get(kind)
            flag = "  MISSED" if target is not None and p95 > target else ""
            shown = f"{target:8.0f}" if target is not None else f"{'-':>8}"
            print(f"{name:34} {p50:8.2f} {p95:8.2f} {shown} {per_call:10d}{flag}")


@contextmanager
def _database(explicit: str | None) -> Iterator[str]:
    if explicit:
        yield explicit
        return
    name = f"sentinel_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DEFAULT_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(DEFAULT_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with psycopg.connect(DEFAULT_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` and ``--reuse``, shared by the benchmarks that load this data."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SENTINEL_BENCH_DATABASE_URL"),
        help="an empty database to use (default: a new one, dropped afterwards)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --database-url: keep data loaded by an earlier run with the same --rows/--seed",
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, load the data, print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic controls to load")
    parser.add_argument("--iterations", type=int, default=300, help="timed calls per query")
    parser.add_argument("--seed", type=int, default=7)
    add_database_options(parser)
    args = parser.parse_args(argv)
    with _database(args.database_url) as raw_url:
        url: URL = make_url(raw_url).set(drivername="postgresql+psycopg")
        settings = load_settings(None)
        db = Database.from_url(url, settings)
        migrations.upgrade(db.engine)
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq) as conn:
            present = conn.execute("SELECT count(*) FROM pci_dss_controls").fetchone()
        if args.reuse and present and present[0] == args.rows:
            info = _reused(args.rows, args.seed)
        else:
            print(f"loading {args.rows:,} controls ...", file=sys.stderr, flush=True)
            info = _load(libpq, args.rows, args.seed)
        print(
            f"loaded in {info['load_seconds']:.0f}s, indexed and analysed in"
            f" {info['total_seconds'] - info['load_seconds']:.0f}s",
            file=sys.stderr,
        )
        _bench(db, args.rows, info, args.iterations, args.seed)
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
