"""Vectors at scale on the embedded server (a benchmark, not a test).

Starts a throwaway embedded PostgreSQL (pgserver, with pgvector) in a temporary folder, migrates
a database ``--with vectors``, COPYs ``--rows`` synthetic controls (default 100,000), writes a
``pci_dss_controls_embeddings.csv`` of ``--dims``-dimension vectors (default 384) and imports it
through the importer. It vacuums both tables, then times, through the repositories,
``similar_to`` and hybrid ``search`` (top 10), and measures recall@10 of the HNSW index against an
exact scan.

Vectors are clustered (one of ``--clusters`` centres plus noise), as embeddings of texts on a
few hundred topics are; query vectors are fresh draws from the same clusters.

    .venv/bin/python bench/vector_bench.py --rows 100000 --dims 384
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sentinel_db.config import load_settings
from sentinel_db.importers import import_file
from sentinel_db.records.embeddings import vector_literal
from sentinel_db.repositories import PciControlRepository
from sentinel_db.repositories.hybrid import FUSION_DEPTH
from sentinel_db.repositories.vectors import VectorStore
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.runtime.query_vectors import QueryEmbedder
from sentinel_db.schema import migrations

MODEL = "bench-model"
SYLLABLES = ("ka", "ri", "to", "men", "sa", "lo", "vi", "dre", "pan", "tur", "shi", "el", "gor")
WORDS = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})[:2000]


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class Clusters:
    """Topic centres; each draw is a centre plus uniform noise, normalised."""

    def __init__(self, rng: random.Random, count: int, dims: int, noise: float) -> None:
        self.rng, self.dims, self.noise = rng, dims, noise
        self.centres = [_unit([rng.random() - 0.5 for _ in range(dims)]) for _ in range(count)]

    def draw(self) -> tuple[int, list[float]]:
        topic = self.rng.randrange(len(self.centres))
        centre, rnd, noise = self.centres[topic], self.rng.random, self.noise
        return topic, _unit([c + noise * (rnd() - 0.5) for c in centre])


def _topic_words(topic: int) -> list[str]:
    return [WORDS[(topic * 3 + k) % len(WORDS)] for k in range(3)]


def _control_id(i: int) -> str:
    return f"{i // 10000 + 1}.{(i // 100) % 100}.{i % 100}"


def _load_controls(url: str, rows: int, topics: list[int], rng: random.Random) -> None:
    # The chunk's words depend on the topic, so lexical and vector sides agree in part.
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY pci_dss_controls (control_id, requirement, chunk, metadata) FROM STDIN"
        ) as copy:
            for i in range(rows):
                words = _topic_words(topics[i]) + [rng.choice(WORDS) for _ in range(20)]
                rng.shuffle(words)
                copy.write_row((_control_id(i), "Requirement", " ".join(words), "{}"))
        conn.commit()


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _timed(calls: int, fn: Callable[[int], Any]) -> tuple[float, float]:
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - started) * 1000)
    return _percentiles(samples)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--clusters", type=int, default=500)
    parser.add_argument("--noise", type=float, default=0.25)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    import pgserver

    rng = random.Random(20261201)
    folder = Path(tempfile.mkdtemp(prefix="sentinel-db-vector-bench-"))
    server = pgserver.get_server(folder / "pg", cleanup_mode="delete")
    try:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE vector_bench")
        url = make_url(admin).set(drivername="postgresql+psycopg", database="vector_bench")
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        db = Database.from_url(url, load_settings(None))
        migrations.upgrade(db.engine, with_vectors=True)

        clusters = Clusters(rng, args.clusters, args.dims, args.noise)
        started = time.perf_counter()
        drawn = [clusters.draw() for _ in range(args.rows)]
        _load_controls(libpq, args.rows, [t for t, _ in drawn], rng)
        path = folder / "pci_dss_controls_embeddings.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["control_id", "model", "embedding"])
            for i, (_, values) in enumerate(drawn):
                out.writerow([_control_id(i), MODEL, vector_literal([round(v, 6) for v in values])])
        print(f"prepared {args.rows:,} controls and vectors in {time.perf_counter() - started:.0f} s"
              f" (embeddings file {path.stat().st_size / 1e6:.0f} MB)")  # fmt: skip

        report = import_file(db, path, "pci_dss_controls_embeddings")
        assert report.status == "succeeded", report.errors
        print(f"import of the embeddings file: {report.rows_read:,} rows in {report.seconds:.1f} s"
              f" = {report.rows_per_second:,.0f} rows/s")  # fmt: skip
        # Vacuumed now, not by autovacuum on the other core while the searches are timed.
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE pci_dss_controls_embeddings")
            conn.execute("VACUUM ANALYZE pci_dss_controls")

        queries = [clusters.draw() for _ in range(args.queries)]
        keys = [_control_id(rng.randrange(args.rows)) for _ in range(args.queries)]
        with db.unit_of_work(read_only=True) as session:
            repo = PciControlRepository(session)
            store = VectorStore(session, "pci_dss_controls")
            for i in range(10):  # warm the cache and the plans
                repo.similar_to(keys[i], 10, model=MODEL)
            p50, p95 = _timed(args.queries, lambda i: repo.similar_to(keys[i], 10, model=MODEL))
            print(f"similar_to top 10: p50 {p50:.2f} ms, p95 {p95:.2f} ms")

            def hybrid(i: int) -> None:
                topic, values = queries[i]
                repo.search(_topic_words(topic)[0], 10, embedding=values, model=MODEL)

            for i in range(10):
                hybrid(i)
            p50, p95 = _timed(args.queries, hybrid)
            print(f"hybrid search top 10: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
            # The two sides alone, at the depth the fusion asks each of them for (limit 10).
            p50, p95 = _timed(
                args.queries,
                lambda i: repo.search(
                    _topic_words(queries[i][0])[0], FUSION_DEPTH, embedding=False
                ),
            )
            print(f"  its lexical side (top {FUSION_DEPTH}): p50 {p50:.2f} ms, p95 {p95:.2f} ms")
            p50, p95 = _timed(
                args.queries,
                lambda i: store.nearest(queries[i][1], model=MODEL, limit=FUSION_DEPTH),
            )
            print(f"  its vector side (top {FUSION_DEPTH}): p50 {p50:.2f} ms, p95 {p95:.2f} ms")

        _time_default_hybrid(db, queries, args.queries)
        with db.unit_of_work(read_only=True) as session:
            store = VectorStore(session, "pci_dss_controls")
            found = 0
            exact_ms: list[float] = []
            for _, values in queries:
                approximate = {k for k, _ in store.nearest(values, model=MODEL, limit=10)}
                started = time.perf_counter()
                # The uncast column matches no index: an exact scan of every vector.
                exact = session.execute(
                    text(
                        "SELECT control_id FROM pci_dss_controls_embeddings WHERE model = :m"
                        " ORDER BY embedding <=> CAST(:q AS vector) LIMIT 10"
                    ),
                    {"m": MODEL, "q": vector_literal(values)},
                ).scalars()
                exact_keys = set(exact)
                exact_ms.append((time.perf_counter() - started) * 1000)
                found += len(approximate & exact_keys)
            print(f"recall@10 of the HNSW index: {found / (10 * len(queries)):.3f}"
                  f" (exact scan p50 {statistics.median(exact_ms):.1f} ms)")  # fmt: skip
    finally:
        dispose_engines()
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


class _KnownVectors:
    """A provider that knows each question's vector already: times the search, not the model."""

    model = MODEL

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed(self, question: str) -> list[float]:
        return self.vectors[question]


def _time_default_hybrid(db: Database, queries: list[tuple[int, list[float]]], n: int) -> None:
    """Hybrid by default: the database's provider embeds the question (here, instantly)."""
    words = [_topic_words(topic)[0] for topic, _ in queries]
    known = _KnownVectors({w: v for w, (_, v) in zip(words, queries, strict=True)})
    configured = Database(db.engine, embedder=QueryEmbedder.wrap(known))
    with configured.unit_of_work(read_only=True) as session:
        repo = PciControlRepository(session)
        for word in words[:10]:
            assert repo.search(word, 10).mode == "hybrid"
        p50, p95 = _timed(n, lambda i: repo.search(words[i], 10))
    print(f"hybrid search by default (question vectors cached): p50 {p50:.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
