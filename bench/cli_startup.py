"""CLI answer times (a benchmark, not a test): `--help`, `import --help` and the everyday
read commands (`stats`, `data show`, `data search`, `data list`), each beside `psql` asking
the database the same question.

Each command runs as a fresh process (as a person would type it) ``--runs`` times after one
warm-up run, and the median wall time is printed next to its target. The commands, the `psql`
questions and the floor take turns run by run, so that a change in the machine's speed (which
drifts by a third over an hour on a shared 2-core machine) falls on all of them alike. They run
against a throwaway database on ``--server`` (DATABASE_URL set), migrated and loaded with the
bundled sample, then dropped. `psql` (when on PATH) shows what the question costs the server plus a
process start: the floor the CLI is measured against.
The last row times Python importing the libraries every read command needs before its own code
runs (Typer, rich, psycopg, pydantic-settings): the floor on this machine.
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
TARGETS = {
    "--help": 0.3,
    "import --help": 0.3,
    "stats": 0.5,
    "data show control 1.2.1": 0.5,
    "data search multi-factor authentication": 0.5,
    "data list controls": 0.5,
}
# What psql runs for the same question (None: no database question to compare with).
SAME_QUESTION: dict[str, str | None] = {
    "--help": None,
    "import --help": None,
    "stats": "SELECT c.relname, c.reltuples, pg_table_size(c.oid), pg_indexes_size(c.oid)"
    " FROM pg_class c WHERE c.relname IN ('pci_dss_controls', 'aws_config_rules_guidance',"
    " 'pci_aws_config_rule_mappings'); SELECT table_name, status, started_at"
    " FROM sentinel_db.import_runs ORDER BY started_at DESC LIMIT 3",
    "data show control 1.2.1": "SELECT * FROM pci_dss_controls WHERE control_id = '1.2.1';"
    " SELECT config_rules FROM pci_aws_config_rule_mappings WHERE control_id = '1.2.1'",
    "data search multi-factor authentication": "SELECT control_id, ts_headline('english',"
    " chunk, q) FROM pci_dss_controls, websearch_to_tsquery('english',"
    " 'multi-factor authentication') q WHERE search_vector @@ q"
    " ORDER BY ts_rank(search_vector, q) DESC LIMIT 10",
    "data list controls": "SELECT * FROM pci_dss_controls ORDER BY control_id LIMIT 10",
}


# What every read command must load before it can answer: the floor its own code stands on.
LIBRARIES = "import typer, rich.console, rich.table, psycopg, pydantic_settings"
FLOOR = "(python importing Typer, rich, psycopg, pydantic-settings)"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("sentinel-db")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sentinel_db"]


def _time(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    return _time_all({"": command}, env, runs)[""]


def _time_all(
    commands: dict[str, list[str]], env: dict[str, str], runs: int
) -> dict[str, list[float]]:
    """Each command's run times, sorted; the commands take turns, run by run, so that a change
    in the machine's speed falls on all of them alike."""
    for command in commands.values():
        subprocess.run(command, env=env, check=True, capture_output=True)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    return {name: sorted(found) for name, found in times.items()}


def _clean_env() -> dict[str, str]:
    """This environment without database settings, and with Python writing its bytecode.

    An installed package's modules are compiled once (pip does it at install time); a shell
    that sets PYTHONDONTWRITEBYTECODE would have every run compile the project's modules again,
    which is not what a person's command costs. The warm-up run writes the bytecode.
    """
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "DB_")) and k != "PYTHONDONTWRITEBYTECODE"
    }


def _median_p90(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.9))]


def _split(label: str) -> list[str]:
    # The question is one argument, as a person would quote it.
    if label.startswith("data search "):
        return ["data", "search", label.removeprefix("data search ")]
    return label.split()


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
    env = _clean_env()
    env["DATABASE_URL"] = url
    try:
        for setup in (["--quiet", "migrate"], ["--quiet", "import", str(SAMPLE)]):
            subprocess.run(_command() + setup, env=env, check=True, capture_output=True)
        psql = shutil.which("psql")
        commands = {label: _command() + _split(label) for label in TARGETS}
        for label, question in SAME_QUESTION.items():
            if psql and question:
                commands[f"psql {label}"] = [psql, url, "-qc", question]
        commands[FLOOR] = [sys.executable, "-c", LIBRARIES]
        times = _time_all(commands, env, args.runs)
        print(f"{'command':<52}{'median s':>9}{'p90 s':>7}{'target':>7}{'psql s':>8}")
        for label, target in TARGETS.items():
            median, p90 = _median_p90(times[label])
            verdict = "ok" if median <= target else "SLOW"
            same = times.get(f"psql {label}")
            floor = f"{statistics.median(same):.3f}" if same else "-"
            print(
                f"sentinel-db {label:<40}{median:>9.3f}{p90:>7.3f}{target:>7.1f}{floor:>8}"
                f"  {verdict}"
            )
        median, p90 = _median_p90(times[FLOOR])
        print(f"{FLOOR:<52}{median:>9.3f}{p90:>7.3f}")
    finally:
        with psycopg.connect(args.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    embedded_overhead(args.runs)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"({args.runs} runs each, after one warm-up; {os.cpu_count()} cores,"
        f" load average {load:.1f} at the end)"
    )


def embedded_overhead(runs: int) -> None:
    """Median `stats` on the embedded default against DATABASE_URL set to the same server."""
    folder = Path(tempfile.mkdtemp(prefix="sentinel-bench-embedded-"))
    env = _clean_env()
    env["SENTINEL_DB_EMBEDDED_DIR"] = str(folder)
    try:
        subprocess.run([*_command(), "--quiet", "import", str(SAMPLE)], env=env, check=True)
        from sentinel_db.runtime import embedded

        url = embedded.embedded_url(folder)
        # Alternated run by run, so a change in the machine's load falls on both alike.
        commands = {"default": env, "direct": {**env, "DATABASE_URL": url}}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command_env in commands.items():
                times[name] += _time([*_command(), "stats"], command_env, 1)
        default, direct = (statistics.median(times[name]) for name in commands)
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
