"""The Prometheus example a reader copies shows sentinel-db's own metrics."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sentinel_db.runtime.db import Database

EXAMPLE = """
from prometheus_client import CollectorRegistry, generate_latest

from sentinel_db import Database, PciControlRepository
from sentinel_db.runtime.prometheus import register

db = Database.from_settings(cache=True)
registry = CollectorRegistry()  # sentinel-db's metrics alone, without the process's python_gc_*
register(db, registry)  # a collector: every scrape reads a fresh db.metrics()
with db.unit_of_work(read_only=True) as session:
    PciControlRepository(session).count()
scrape = generate_latest(registry).decode()
print("\\n".join([line for line in scrape.splitlines() if not line.startswith("#")][:10]))
"""


def test_the_prometheus_example_prints_sentinel_db_metrics(
    clean_db: Database, cli_env: dict[str, Any]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", EXAMPLE], env=cli_env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("sentinel_db_") for line in lines), lines
    assert any(line.startswith("sentinel_db_connections_opened_total") for line in lines)
    assert "python_gc" not in result.stdout
