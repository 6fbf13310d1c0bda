"""How long ``sentinel-db embed`` takes when the provider answers each batch in a fixed time.

Loads a data set (default: the 3.2.1 folder in ``$SENTINEL_TEST_SHARED_DATA``) into a throwaway
embedded PostgreSQL with pgvector, starts a small fake OpenAI-compatible provider on loopback
that answers every batch after ``--latency-ms`` (default 50) with ``--dims``-dimension vectors,
then times ``sentinel-db embed`` (a subprocess, as a person runs it) and a second run that has
nothing to do.

    .venv/bin/python bench/embed_bench.py [--data DIR] [--latency-ms 50] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from sentinel_db.config import load_settings
from sentinel_db.importers import ImportOptions, import_directory
from sentinel_db.runtime.db import Database, dispose_engines
from sentinel_db.schema import migrations


def _fake_provider(latency: float, dims: int) -> tuple[ThreadingHTTPServer, list[int]]:
    """A provider that sleeps ``latency`` seconds per request; returns it and the batch sizes."""
    batches: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            batches.append(len(body["input"]))
            time.sleep(latency)
            data = []
            for i, text in enumerate(body["input"]):
                rng = random.Random(hashlib.sha256(text.encode()).digest())
                data.append({"index": i, "embedding": [rng.uniform(-1, 1) for _ in range(dims)]})
            raw = json.dumps({"data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, batches


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("SENTINEL_TEST_SHARED_DATA"))
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dims", type=int, default=384)
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("name the data folder: --data or $SENTINEL_TEST_SHARED_DATA")
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="sentinel-embed-bench-"))
    pg = pgserver.get_server(folder / "pg", cleanup_mode="delete")
    provider, batches = _fake_provider(args.latency_ms / 1000, args.dims)
    try:
        admin = pg.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE embed_bench")
        url = make_url(admin).set(drivername="postgresql+psycopg", database="embed_bench")
        db = Database.from_url(url, load_settings(None))
        migrations.upgrade(db.engine, with_vectors=True)
        import_directory(db, args.data, options=ImportOptions())
        dispose_engines()
        env = {
            **os.environ,
            "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
            "EMBEDDING_URL": f"http://127.0.0.1:{provider.server_address[1]}/v1",
            "EMBEDDING_MODEL": "bench-model",
            "EMBEDDING_BATCH_SIZE": str(args.batch_size),
        }
        for label in ("first run", "second run (nothing to do)"):
            before = len(batches)
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "sentinel_db", "-q", "embed", "--format", "json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - started
            rows = json.loads(done.stdout)
            embedded = sum(r["embedded"] for r in rows)
            print(
                f"{label}: {embedded} rows embedded, {sum(r['current'] for r in rows)} current,"
                f" {len(batches) - before} batches of up to {args.batch_size}"
                f" at {args.latency_ms:.0f} ms each: {seconds:.2f} s (process start included)"
            )
    finally:
        provider.shutdown()
        dispose_engines()
        pg.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
