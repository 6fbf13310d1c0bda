"""CLI start-up time (a benchmark, not a test): medians of `--help`, `import --help`, `stats`.

Each command runs as a fresh process (as a person would type it) ``--runs`` times after one
warm-up run, and the median wall time is printed next to its target. `stats` runs against a
throwaway database on ``--server``, migrated and loaded with the bundled sample, then dropped.
Then `stats` on the embedded default (no DATABASE_URL, a throwaway data folder) is timed beside
`stats` with DATABASE_URL pointing at that same server: the default may cost at most 0.1 s more.

    .venv/bin/python bench/cli_startup.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "sentinel_db" / "sample_data"
TARGETS = {"--help": 0.3, "import --help": 0.3, "stats": 0.6}


def _command() -> list[str]:
    script = Path(sys.executable).with_name("sentinel-db")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sentinel_db"]


def _time(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(_command() + args, env=env, check=True, capture_output=True)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(_command() + args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    """Print the start-up medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL admin URL")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    args = parser.parse_args()

    name = f"sentinel_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DB_"))}
    env["DATABASE_URL"] = url
    try:
        for setup in (["--quiet", "migrate"], ["--quiet", "import", str(SAMPLE)]):
            subprocess.run(_command() + setup, env=env, check=True, capture_output=True)
        print(f"{'command':<24}{'median s':>10}{'p90 s':>8}{'target':>8}")
        for label, target in TARGETS.items():
            times = sorted(_time(label.split(), env, args.runs))
            p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
            verdict = "ok" if statistics.median(times) <= target else "SLOW"
            print(
                f"sentinel-db {label:<12}{statistics.median(times):>10.3f}{p90:>8.3f}"
                f"{target:>8.1f}  {verdict}"
            )
    finally:
        with psycopg.connect(args.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    embedded_overhead(args.runs)
    print(f"({args.runs} runs each, after one warm-up; {os.cpu_count()} cores)")


def embedded_overhead(runs: int) -> None:
    """Median `stats` on the embedded default against DATABASE_URL set to the same server."""
    folder = Path(tempfile.mkdtemp(prefix="sentinel-bench-embedded-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DB_"))}
    env["SENTINEL_DB_EMBEDDED_DIR"] = str(folder)
    try:
        subprocess.run([*_command(), "--quiet", "import", str(SAMPLE)], env=env, check=True)
        from sentinel_db.runtime import embedded

        url = embedded.embedded_url(folder)
        default = statistics.median(_time(["stats"], env, runs))
        direct = statistics.median(_time(["stats"], {**env, "DATABASE_URL": url}, runs))
        verdict = "ok" if default - direct <= 0.1 else "SLOW"
        print(f"{'stats, embedded default':<24}{default:>10.3f}")
        print(f"{'stats, DATABASE_URL':<24}{direct:>10.3f}")
        print(f"{'difference':<24}{default - direct:>10.3f}{'':>8}{0.1:>8.1f}  {verdict}")
    finally:
        from sentinel_db.runtime import embedded

        embedded.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
