"""Connection set-up for people: the ``.env`` template and the connection check."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sentinel_db.errors import UsageError
from sentinel_db.runtime.db import Database, HealthReport
from sentinel_db.schema import migrations

ENV_TEMPLATE = """\
# sentinel-db settings. Keep this file private (mode 0600); it holds secrets.
#
# DATABASE_URL: the PostgreSQL database sentinel-db works on. Leave it unset to use the
# embedded PostgreSQL (pip install 'sentinel-db[embedded]').
# On Supabase: Project -> Connect -> "Connection string":
#   direct connection     postgresql://postgres:PASSWORD@db.PROJECT.supabase.co:5432/postgres
#   session pooler        postgresql://postgres.PROJECT:PASSWORD@aws-0-REGION.pooler.supabase.com:5432/postgres
#   transaction pooler    postgresql://postgres.PROJECT:PASSWORD@aws-0-REGION.pooler.supabase.com:6543/postgres
# Run migrations over the direct connection or the session pooler; services may use the
# transaction pooler (port 6543 or ?pgbouncer=true turns prepared statements off).
# SUPABASE_DB_URL is accepted instead of DATABASE_URL.
DATABASE_URL=
# Optional read replica for read-only work (queries, exports, stats).
DATABASE_READ_URL=

# Rows per COPY batch when importing.
DB_BATCH_SIZE=1000
# Seconds to wait for a connection (and for a pooled connection).
DB_TIMEOUT=30
# Retries, with exponential backoff, after a transient connection failure.
DB_RETRY_COUNT=3
# Connection pool: kept connections, and extra ones allowed under load.
DB_POOL_SIZE=10
DB_MAX_OVERFLOW=20
# Serve repeated repository reads from memory, exactly (see docs/cache.md: "Cache and runtime
# figures"), within these bounds.
DB_CACHE=false
DB_CACHE_MAX_ENTRIES=10000
DB_CACHE_MAX_BYTES=67108864
# Largest accepted CSV field, in bytes (16 MiB).
DB_MAX_FIELD_SIZE=16777216
# DEBUG, INFO, WARNING, ERROR or CRITICAL.
LOG_LEVEL=INFO
# Log SQL statements (never their parameters).
ENABLE_SQL_LOGGING=false
# Let Supabase's anon role read the reference tables (applied by `sentinel-db migrate`).
RLS_ANON_READ=false

# Supabase project settings (Project -> Settings -> API). Not needed by sentinel-db itself;
# accepted so one .env can serve the whole framework. Treated as secrets.
SUPABASE_URL=
SUPABASE_SERVICE_ROLE_KEY=
SUPABASE_ANON_KEY=
"""


def write_env_template(path: Path, *, force: bool = False) -> Path:
    """Write the commented ``.env`` template with mode 0600.

    Raises:
        UsageError: the file exists and ``force`` is false.
    """
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="pass --force to overwrite it")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(ENV_TEMPLATE)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through os.open
    return path


@dataclass
class ConnectionCheck:
    """What `auth check` reports about a database."""

    health: HealthReport
    current_revision: str | None
    head_revision: str
    tables: dict[str, bool]
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Connected, at head, and every table present."""
        return self.current_revision == self.head_revision and all(self.tables.values())


def check_connection(db: Database) -> ConnectionCheck:
    """Connect, then compare the schema revision and tables with what sentinel-db expects."""
    health = db.health_check()
    state = migrations.status(db.engine)
    tables = migrations.existing_tables(db.engine)
    warnings: list[str] = []
    if state.current is None:
        warnings.append("the schema has never been migrated: run `sentinel-db migrate`")
    elif not state.up_to_date:
        warnings.append(
            f"the schema is at {state.current}, head is {state.head}: run `sentinel-db migrate`"
        )
    return ConnectionCheck(health, state.current, state.head, tables, warnings)


def env_file_warnings(path: Path | None) -> list[str]:
    """Warnings about the ``.env`` file in use (readable by group or others)."""
    if path is None or not path.is_file():
        return []
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return [f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"]
    return []
