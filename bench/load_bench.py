"""Reader latency and import throughput, with and without each other (a benchmark, not a test).

Creates a throwaway database on ``--server``, loads ``--base-rows`` controls, then measures:

1. readers alone (``--threads`` threads plus ``--processes`` processes, each reading through the
   repositories as fast as it can for ``--seconds``): p50/p95 latency of one read;
2. the import of a ``--rows`` file (every base row changed, the rest new) with no readers;
3. the same import again, from the same starting state, while the readers run.

    .venv/bin/python bench/load_bench.py --rows 20000 --threads 4 --processes 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentinel_db.config import load_settings  # noqa: E402
from sentinel_db.importers import ImportOptions, import_file  # noqa: E402
from sentinel_db.runtime.db import Database  # noqa: E402
from sentinel_db.schema import migrations  # noqa: E402
from tests.load_reader import observe  # noqa: E402
from tests.test_load import write_controls  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLE = "pci_dss_controls"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _read_loop(url: str, stop: Any, out: Any) -> None:
    """Read until ``stop`` is set; send the latencies (seconds) back."""
    db = Database.from_url(url, load_settings(None))
    latencies: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        observe(db)
        latencies.append(time.perf_counter() - started)
    out.put(latencies)


class Readers:
    """Reader threads in this process plus reader processes, all looping until stopped."""

    def __init__(self, url: str, db: Database, *, threads: int, processes: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop_threads = threading.Event()
        self._stop_procs = ctx.Event()
        self._queue: Any = ctx.Queue()
        self._latencies: list[float] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._thread, args=(db,)) for _ in range(threads)]
        self._procs = [
            ctx.Process(target=_read_loop, args=(url, self._stop_procs, self._queue))
            for _ in range(processes)
        ]

    def _thread(self, db: Database) -> None:
        mine: list[float] = []
        while not self._stop_threads.is_set():
            started = time.perf_counter()
            observe(db)
            mine.append(time.perf_counter() - started)
        with self._lock:
            self._latencies.extend(mine)

    def __enter__(self) -> Readers:
        for proc in self._procs:
            proc.start()
        for thread in self._threads:
            thread.start()
        time.sleep(1.0)  # let the processes connect before anything is timed
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_threads.set()
        self._stop_procs.set()
        for thread in self._threads:
            thread.join()
        for _ in self._procs:
            self._latencies.extend(self._queue.get(timeout=60))
        for proc in self._procs:
            proc.join()

    def summary(self) -> str:
        ms = [v * 1000 for v in self._latencies]
        return (
            f"{len(ms)} reads, p50 {statistics.median(ms):.2f} ms, "
            f"p95 {_percentile(ms, 0.95):.2f} ms"
        )


def _reset(db: Database, base: Path) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLE}, sentinel_db.import_runs"))
    assert import_file(db, base, TABLE).status == "succeeded"


def _timed_import(db: Database, path: Path, rows: int, batch: int | None) -> str:
    started = time.perf_counter()
    report = import_file(db, path, TABLE, options=ImportOptions(batch_size=batch, force=True))
    seconds = time.perf_counter() - started
    assert report.status == "succeeded", report.error
    return f"{rows} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="admin URL of a PostgreSQL server")
    parser.add_argument("--rows", type=int, default=20_000, help="rows in the imported file")
    parser.add_argument("--base-rows", type=int, default=None, help="rows before (default rows/3)")
    parser.add_argument("--threads", type=int, default=4, help="reader threads")
    parser.add_argument("--processes", type=int, default=2, help="reader processes")
    parser.add_argument("--seconds", type=float, default=5.0, help="readers-alone duration")
    parser.add_argument("--batch-size", type=int, default=None, help="import batch size")
    args = parser.parse_args()
    base_rows = args.base_rows or args.rows // 3

    name = f"sentinel_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(database=name)
    url_str = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        db = Database.from_url(url, load_settings(None))
        migrations.upgrade(db.engine)
        with tempfile.TemporaryDirectory() as folder:
            base = write_controls(Path(folder) / "base.csv", base_rows, "a")
            big = write_controls(Path(folder) / "pci_dss_controls.csv", args.rows, "b")
            _reset(db, base)
            readers_alone = Readers(url_str, db, threads=args.threads, processes=args.processes)
            with readers_alone:
                time.sleep(args.seconds)
            alone = _timed_import(db, big, args.rows, args.batch_size)
            _reset(db, base)
            during = Readers(url_str, db, threads=args.threads, processes=args.processes)
            with during:
                loaded = _timed_import(db, big, args.rows, args.batch_size)
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "base_rows": base_rows,
                    "readers": f"{args.threads} threads + {args.processes} processes",
                },
            )
        )
        print(f"readers alone:        {readers_alone.summary()}")
        print(f"readers during import: {during.summary()}")
        print(f"import, no readers:    {alone}")
        print(f"import, with readers:  {loaded}")
        db.engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
