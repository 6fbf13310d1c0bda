"""Import throughput against ``psql \\copy`` (a benchmark, not a test).

Generates N synthetic control rows (about 1 KB of chunk text, a realistic metadata object), then
for several rounds, alternating which goes first, times:

* ``psql \\copy`` of the file into ``bench_copy``, a table created ``LIKE pci_dss_controls
  INCLUDING ALL`` (same columns, generated search vector and indexes) with the same triggers
  (search statistics), emptied first;
* sentinel-db's first import of the file into the emptied ``pci_dss_controls`` (validation on);
* sentinel-db's re-import of the same unchanged file with ``force`` (no checksum skip).

Each import runs in a child process so its peak RSS can be read. Prints medians, rows/s, the
ratio to ``\\copy`` and peak RSS. A throwaway database is created on ``--server`` and dropped.

    .venv/bin/python bench/import_bench.py --rows 100000 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
WORDS = [
    "account",
    "cardholder",
    "data",
    "network",
    "security",
    "control",
    "firewall",
    "segment",
    "encrypt",
    "key",
    "rotation",
    "audit",
    "log",
    "monitor",
    "access",
    "privilege",
    "review",
    "vulnerability",
    "patch",
    "scan",
    "policy",
    "incident",
    "response",
    "authentication",
    "password",
    "token",
    "service",
    "provider",
    "configuration",
    "baseline",
    "inventory",
    "risk",
]
CATEGORIES = [
    "network-security-controls",
    "secure-configuration",
    "stored-account-data",
    "logging-and-monitoring",
    "access-restriction",
    "security-testing",
]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` synthetic controls (ids included, so ``\\copy`` can load them too)."""
    rng = random.Random(seed)
    pool = [" ".join(rng.choice(WORDS) for _ in range(160)) for _ in range(512)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "control_id", "requirement", "chunk", "metadata"])
        for i in range(rows):
            requirement = 1 + i % 12
            control_id = f"{requirement}.{i // 1_000_000}.{i // 1000 % 1000}.{i % 1000}"
            chunk = pool[i % len(pool)][: 900 + i % 200] + f" ({i})"
            metadata = {
                "requirements_id": str(requirement),
                "control_category": CATEGORIES[requirement % len(CATEGORIES)],
                "pci_dss_version": "4.0.1",
                "testing_level": 4,
                "aws_config_mapped": i % 3 == 0,
                "source": "synthetic benchmark data",
                "tags": ["bench", f"r{requirement}"],
            }
            writer.writerow(
                [
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    control_id,
                    f"Requirement {requirement}",
                    chunk,
                    json.dumps(metadata),
                ]
            )


def child(url: str, path: str, force: bool) -> None:
    """Run one import and print its figures as JSON (run in a subprocess)."""
    from sentinel_db.config import load_settings
    from sentinel_db.importers import ImportOptions, import_file
    from sentinel_db.runtime.db import Database

    db = Database.from_url(make_url(url).set(drivername="postgresql+psycopg"), load_settings(None))
    started = time.perf_counter()
    report = import_file(db, path, "pci_dss_controls", options=ImportOptions(force=force))
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_mb": peak_kb / 1024,
                "status": report.status,
                "inserted": report.inserted,
                "updated": report.updated,
                "rejected": report.rejected,
                "unchanged": report.unchanged,
            }
        )
    )


def _run_import(url: str, path: Path, *, force: bool) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path), "1" if force else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _psql_copy(url: str, path: Path, table: str = "bench_copy") -> float:
    command = (
        f"\\copy {table} (id, control_id, requirement, chunk, metadata) FROM '{path}'"
        " WITH (FORMAT csv, HEADER true)"
    )
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command], check=True, capture_output=True
    )
    return time.perf_counter() - started


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE pci_dss_controls, bench_copy, bench_copy_no_stats, bench_copy_no_text,"
            " sentinel_db.import_runs"
        )
        conn.execute("CHECKPOINT")


def bench_size(url: str, rows: int, rounds: int, folder: Path) -> dict[str, Any]:
    """Time \\copy, first import and forced re-import of ``rows`` rows; medians over ``rounds``."""
    path = folder / f"pci_dss_controls_{rows}.csv"
    generate(path, rows)
    copies, firsts, reimports, rss = [], [], [], []
    no_stats, no_text = [], []
    for round_number in range(rounds):
        _reset(url)
        order = ("copy", "import") if round_number % 2 == 0 else ("import", "copy")
        for which in order:
            if which == "copy":
                copies.append(_psql_copy(url, path))
            else:
                first = _run_import(url, path, force=True)
                assert first["inserted"] == rows and first["rejected"] == 0, first
                firsts.append(first["seconds"])
                rss.append(first["rss_mb"])
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
        # What the search text costs: the same \\copy without the statistics triggers, and
        # without the search column (and its GIN index) as well.
        no_stats.append(_psql_copy(url, path, "bench_copy_no_stats"))
        no_text.append(_psql_copy(url, path, "bench_copy_no_text"))
        again = _run_import(url, path, force=True)
        assert again["unchanged"] == rows, again
        reimports.append(again["seconds"])
        rss.append(again["rss_mb"])
    copy_s, first_s, again_s = (statistics.median(x) for x in (copies, firsts, reimports))
    return {
        "rows": rows,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "copy_rows_per_s": round(rows / copy_s),
        "import_rows_per_s": round(rows / first_s),
        "import_ratio": round(copy_s / first_s, 2),
        "reimport_rows_per_s": round(rows / again_s),
        "reimport_ratio": round(copy_s / again_s, 2),
        "peak_rss_mb": round(max(rss), 1),
        "copy_without_statistics_rows_per_s": round(rows / statistics.median(no_stats)),
        "copy_without_search_text_rows_per_s": round(rows / statistics.median(no_text)),
    }


def main() -> None:
    """Parse options, set up a throwaway database, run each size, print the figures."""
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--server", default=os.environ.get("SENTINEL_BENCH_DATABASE_URL", DEFAULT_SERVER)
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()

    from sentinel_db.config import load_settings
    from sentinel_db.runtime.db import Database, dispose_engines
    from sentinel_db.schema import migrations

    name = f"sentinel_bench_{uuid.uuid4().hex[:10]}"
    server = make_url(args.server).set(drivername="postgresql")
    admin = server.render_as_string(hide_password=False)
    url = server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db = Database.from_url(
            make_url(url).set(drivername="postgresql+psycopg"), load_settings(None)
        )
        migrations.upgrade(db.engine)
        dispose_engines()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_copy (LIKE pci_dss_controls INCLUDING ALL)")
            for name in ("bench_copy_no_stats", "bench_copy_no_text"):
                conn.execute(f"CREATE TABLE {name} (LIKE pci_dss_controls INCLUDING ALL)")
            conn.execute("ALTER TABLE bench_copy_no_text DROP COLUMN search_vector")
            # LIKE copies no triggers; the same schema includes them (search statistics, ...).
            triggers = conn.execute(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                " WHERE tgrelid = 'pci_dss_controls'::regclass AND NOT tgisinternal"
            ).fetchall()
            for (definition,) in triggers:
                conn.execute(
                    definition.replace(" ON public.pci_dss_controls ", " ON bench_copy ").replace(
                        " ON pci_dss_controls ", " ON bench_copy "
                    )
                )
        results = []
        with tempfile.TemporaryDirectory(prefix="sentinel-import-bench-") as folder:
            for rows in args.rows:
                results.append(bench_size(url, rows, args.rounds, Path(folder)))
                if not args.json:
                    r = results[-1]
                    print(
                        f"{r['rows']:>9,} rows ({r['file_mb']} MB): \\copy {r['copy_rows_per_s']:,}/s | "
                        f"import {r['import_rows_per_s']:,}/s ({r['import_ratio']}x) | "
                        f"re-import {r['reimport_rows_per_s']:,}/s ({r['reimport_ratio']}x) | "
                        f"peak RSS {r['peak_rss_mb']} MB | \\copy without term statistics "
                        f"{r['copy_without_statistics_rows_per_s']:,}/s, without search text "
                        f"{r['copy_without_search_text_rows_per_s']:,}/s",
                        flush=True,
                    )
        if args.json:
            print(json.dumps(results, indent=2))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
