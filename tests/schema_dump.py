"""A database's whole schema as pg_dump writes it, one entry per object, to compare statement by statement.

The dump tool must be able to read the server: the test server is PostgreSQL 15 (the system's
client tools), a bare machine's is the embedded PostgreSQL 18 (pgserver ships its own pg_dump).
The newest tool whose major version is at least the server's is used.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from collections import Counter
from functools import lru_cache
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

_HEADER = re.compile(r"^--\n-- (?=Name: )", re.M)


def _candidates() -> list[str]:
    found = [shutil.which("pg_dump") or ""]
    found += sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    try:
        import pgserver

        found.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"))
    except ImportError:
        pass
    return [f for f in dict.fromkeys(found) if f and Path(f).is_file()]


@lru_cache(maxsize=4)
def pg_dump_for(server_major: int) -> str:
    """A pg_dump that can dump a server of ``server_major`` (fails, naming what it found)."""
    versions = {}
    for tool in _candidates():
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)
        match = re.search(r"(\d+)\.", out.stdout)
        if match:
            versions[tool] = int(match.group(1))
    usable = sorted((v, t) for t, v in versions.items() if v >= server_major)
    assert usable, f"no pg_dump for PostgreSQL {server_major} among {versions}"
    return usable[0][1]


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def schema_entries(url: URL) -> Counter[str]:
    """Every object of the database's schema (all schemas), as pg_dump's entries.

    Each entry is its ``Name: ...; Type: ...; Schema: ...; Owner: ...`` line and its statements,
    comments and session settings left out, so two dumps of the same schema compare equal.
    """
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    tool = pg_dump_for(int(row[0]) // 10000)
    dump = subprocess.run(
        [tool, "--schema-only", "--dbname", _libpq(url)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries: Counter[str] = Counter()
    for chunk in _HEADER.split(dump)[1:]:
        lines = [
            line
            for line in chunk.splitlines()
            if line.strip()
            and not line.startswith(("--", "SET ", "SELECT pg_catalog.set_config", "\\"))
        ]
        entries["\n".join(lines)] += 1
    return entries


def mentioning(entries: Counter[str], name: str) -> Counter[str]:
    """The entries that name ``name`` (the table's own objects, its triggers, grants, ...)."""
    return Counter({e: n for e, n in entries.items() if name in e})
