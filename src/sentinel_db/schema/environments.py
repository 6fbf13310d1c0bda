"""The two Alembic environments: the core history and the optional ``vectors`` history.

The core history (``alembic/``) holds every table sentinel-db needs and ends in one head, so
``alembic upgrade head`` works as typed. The pgvector tables have a history of their own
(``alembic/vectors/``, ``alembic -n vectors upgrade head``) with its own version table, so a
server without pgvector never sees them and the core history never has a second head.

Databases migrated before the split kept the vectors revision in the core version table; both
environments move it to the vectors version table (under the migration lock) before they run,
so such a database upgrades in place.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from sentinel_db.errors import MigrationError
from sentinel_db.records.models import Base
from sentinel_db.records.tables import BOOKKEEPING_SCHEMA
from sentinel_db.schema.access import private_schema_sql, private_table_sql, run_statements

Environment = Literal["core", "vectors"]
CORE: Final = "core"
VECTORS: Final = "vectors"

VERSION_TABLE: Final = "sentinel_db_alembic_version"
VECTORS_VERSION_TABLE: Final = "sentinel_db_vectors_alembic_version"
# Appends the bookkeeping schema to the search path (``{local}``: for this transaction only, or
# for the session in offline SQL), so the unqualified version table is found in either schema.
SEARCH_PATH_SQL: Final = (
    "SELECT set_config('search_path', concat_ws(', ', nullif(current_setting('search_path'), ''),"
    " 'sentinel_db'), {local})"
)
# pg_advisory_xact_lock key shared by every `migrate` (0x53454e54 = "SENT").
MIGRATION_LOCK_KEY: Final = 0x53454E54_0001

_PACKAGE_SCRIPTS = Path(__file__).resolve().parents[1] / "_alembic"
_REPO_SCRIPTS = Path(__file__).resolve().parents[3] / "alembic"
_VECTORS_TABLE_SQL = f"{BOOKKEEPING_SCHEMA}.{VECTORS_VERSION_TABLE}"


def script_location(environment: Environment = CORE) -> Path:
    """Where an environment's scripts are: inside an installed wheel, else the repository's.

    Raises:
        MigrationError: ``environment`` is neither history, or the scripts are missing.
    """
    if environment not in (CORE, VECTORS):
        # Refused rather than read as the vectors history, which every other name would reach.
        raise MigrationError(f"no migration history is called {environment!r}")
    for root in (_PACKAGE_SCRIPTS, _REPO_SCRIPTS):
        candidate = root if environment == CORE else root / VECTORS
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationError("the Alembic revision scripts are missing from this installation")


def make_config(
    environment: Environment = CORE,
    *,
    connection: Connection | None = None,
    output: io.StringIO | None = None,
) -> Config:
    """An Alembic Config for ``environment``, optionally bound to a live connection."""
    cfg = Config(output_buffer=output, stdout=output or io.StringIO())
    cfg.set_main_option("script_location", str(script_location(environment)))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    cfg.attributes["url"] = "postgresql+psycopg://"
    return cfg


@functools.cache
def scripts(environment: Environment = CORE) -> ScriptDirectory:
    """An environment's revision scripts and their graph (read once per process)."""
    return ScriptDirectory.from_config(make_config(environment))


def revisions(environment: Environment) -> frozenset[str]:
    """Every revision id of ``environment``."""
    return frozenset(s.revision for s in scripts(environment).walk_revisions())


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Consider only sentinel-db's own schemas and tables: never Supabase's or anyone else's."""
    if type_ == "schema":
        return name is None or name == BOOKKEEPING_SCHEMA
    if type_ == "table":
        schema = parent_names.get("schema_name")
        return (f"{schema}.{name}" if schema else name) in Base.metadata.tables
    return True


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Compare only sentinel-db's tables and what belongs to them.

    Expression and GIN indexes need no exclusion here: Alembic 1.13+ compares them by their
    definitions, and the drift tests prove both that a fresh schema shows no changes and that a
    missing expression index is reported.
    """
    if type_ == "table":
        return obj.key in Base.metadata.tables
    return True


def context_options(environment: Environment) -> dict[str, Any]:
    """What ``context.configure`` needs for ``environment``, besides the connection or URL."""
    if environment == VECTORS:
        return {
            "target_metadata": None,
            "version_table": VECTORS_VERSION_TABLE,
            "version_table_schema": BOOKKEEPING_SCHEMA,
        }
    return {
        "target_metadata": Base.metadata,
        "version_table": VERSION_TABLE,
        "compare_type": True,
        "compare_server_default": False,
        "include_schemas": True,
        "include_name": include_name,
        "include_object": include_object,
    }


def _exists(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one())


def _rows(conn: Connection, table: str) -> list[str]:
    return [str(r) for r in conn.execute(text(f"SELECT version_num FROM {table}")).scalars()]


def core_versions(conn: Connection) -> tuple[str, ...]:
    """The core revisions the database is at (the search path must include the bookkeeping
    schema, as :data:`SEARCH_PATH_SQL` sets it)."""
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return tuple(sorted(h for h in ctx.get_current_heads() if h not in revisions(VECTORS)))


def vectors_version(conn: Connection) -> str | None:
    """The vectors revision the database is at, wherever it is recorded; ``None`` if absent."""
    found: list[str] = []
    if _exists(conn, _VECTORS_TABLE_SQL):
        found = _rows(conn, _VECTORS_TABLE_SQL)
    if not found and _exists(conn, VERSION_TABLE):
        found = [r for r in _rows(conn, VERSION_TABLE) if r in revisions(VECTORS)]
    return found[0] if found else None


def adopt_legacy_vectors(conn: Connection) -> None:
    """Move a vectors revision out of the core version table into the vectors one."""
    if not _exists(conn, VERSION_TABLE):
        return
    legacy = [r for r in _rows(conn, VERSION_TABLE) if r in revisions(VECTORS)]
    if not legacy:
        return
    _create_vectors_version_table(conn)
    for revision in legacy:
        conn.execute(
            text(f"INSERT INTO {_VECTORS_TABLE_SQL} (version_num) VALUES (:r)"), {"r": revision}
        )
        conn.execute(text(f"DELETE FROM {VERSION_TABLE} WHERE version_num = :r"), {"r": revision})


def _create_vectors_version_table(conn: Connection) -> None:
    run_statements(conn, private_schema_sql(BOOKKEEPING_SCHEMA))
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {_VECTORS_TABLE_SQL} (version_num varchar(32) NOT NULL,"
            f" CONSTRAINT {VECTORS_VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    run_statements(conn, private_table_sql(_VECTORS_TABLE_SQL))


def before_run(conn: Connection, environment: Environment) -> None:
    """Take the migration lock, find the bookkeeping schema, adopt a legacy vectors revision."""
    # Held until this transaction ends, so two concurrent `migrate` runs queue, not collide.
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    # The version table may live in the bookkeeping schema (or move there during this run).
    conn.execute(text(SEARCH_PATH_SQL.format(local="true")))
    adopt_legacy_vectors(conn)
    if environment == VECTORS:
        _create_vectors_version_table(conn)


def after_run(conn: Connection, environment: Environment) -> None:
    """After the vectors history went to base: remove its (empty) version table again."""
    if environment != VECTORS or _rows(conn, _VECTORS_TABLE_SQL):
        return
    conn.execute(text(f"DROP TABLE {_VECTORS_TABLE_SQL}"))
    conn.execute(
        text(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'sentinel_db') AND NOT EXISTS"
            " (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'sentinel_db') THEN DROP SCHEMA sentinel_db; END IF; END $$"
        )
    )


def run_environment(
    context: Any, environment: Environment, *, open_engine: Callable[[], Engine]
) -> None:
    """The body of an ``env.py``: offline SQL, or migrations over the caller's connection or
    one from ``open_engine`` (an engine from the settings, for ``alembic`` typed in a shell)."""
    config = context.config
    options = context_options(environment)
    if context.is_offline_mode():
        context.configure(
            url=config.attributes.get("url") or "postgresql+psycopg://",
            literal_binds=True,
            **options,
        )
        with context.begin_transaction():
            context.execute(SEARCH_PATH_SQL.format(local="false"))
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            before_run(connection, environment)
            context.run_migrations()
            after_run(connection, environment)

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = open_engine()
    try:
        with engine.connect() as conn:
            run(conn)
            conn.commit()
    finally:
        engine.dispose()
