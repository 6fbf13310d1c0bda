"""A reader for the load tests: what one repository read sees, and a process that keeps reading.

Run as ``python -m tests.load_reader URL OUT STOP``: appends one JSON line per read to OUT until
the file STOP exists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sentinel_db.config import load_settings
from sentinel_db.repositories import PciControlRepository
from sentinel_db.runtime.db import Database

REQUIREMENT = "7"


def observe(db: Database) -> tuple[int, int, list[str]]:
    """One read through the pool: (controls, controls of one requirement, their versions)."""
    with db.unit_of_work(read_only=True) as session:
        # One snapshot for both queries, so they describe the same moment.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        repo = PciControlRepository(session)
        count = repo.count()
        rows = repo.by_requirement(REQUIREMENT)
        return count, len(rows), sorted({str(r.metadata_.get("version")) for r in rows})


def main(argv: list[str]) -> int:
    url, out, stop = argv
    db = Database.from_url(url, load_settings(None))
    with Path(out).open("a", encoding="utf-8") as handle:
        while not Path(stop).exists():
            handle.write(json.dumps(observe(db)) + "\n")
            handle.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
