"""Alembic glue: a Config built in code, and upgrade / downgrade / status / drift / SQL.

The revision history has one branch per table plus ``bookkeeping``, joined by a merge at the
head; the optional ``vectors`` branch stands apart and is applied only on request. The rules a
new revision follows are in ARCHITECTURE.md ("The revision history").
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from alembic import command
from sentinel_db.errors import MigrationError, translate
from sentinel_db.records.models import ALL_TABLES, SCHEMA_BY_TABLE, Base
from sentinel_db.redact import library_logger
from sentinel_db.schema import environments, vector_indexes
from sentinel_db.schema.environments import CORE, VECTORS, Environment

log = library_logger("sentinel_db.migrations")

# Re-exported: callers and tests know them from here.
VERSION_TABLE = environments.VERSION_TABLE
SEARCH_PATH_SQL = environments.SEARCH_PATH_SQL
MIGRATION_LOCK_KEY = environments.MIGRATION_LOCK_KEY
script_location = environments.script_location
include_name = environments.include_name
include_object = environments.include_object
make_config = environments.make_config


def url_for_alembic() -> str:
    """A dialect-only URL for offline (SQL) mode: no server and no secret needed."""
    return "postgresql+psycopg://"


def make_script_directory(environment: Environment = CORE) -> ScriptDirectory:
    """The revision scripts and their graph (read once per process)."""
    return environments.scripts(environment)


_scripts = make_script_directory


def optional_revisions() -> frozenset[str]:
    """The revisions of the optional ``vectors`` history (never part of the core schema)."""
    return environments.revisions(VECTORS)


def head(environment: Environment = CORE) -> str:
    """The newest revision id of ``environment`` (each history ends in one head)."""
    heads = _scripts(environment).get_heads()
    if len(heads) != 1:
        raise MigrationError(f"expected one head revision, found {len(heads)}")
    return str(heads[0])


def current_heads(conn: Connection) -> tuple[str, ...]:
    """The core revisions the database is at: one at head, several after a table was rolled
    back."""
    conn.execute(text(SEARCH_PATH_SQL.format(local="true")))
    return environments.core_versions(conn)


core_heads = current_heads


def current(conn: Connection) -> str | None:
    """The core revision(s) the database is at, comma-separated (``None`` when never migrated)."""
    return ", ".join(current_heads(conn)) or None


def current_vectors(conn: Connection) -> str | None:
    """The ``vectors`` revision the database is at (``None`` when not applied)."""
    conn.execute(text(SEARCH_PATH_SQL.format(local="true")))
    return environments.vectors_version(conn)


@dataclass(frozen=True)
class RevisionInfo:
    """One revision: id, one-line description, and the tables it creates."""

    revision: str
    message: str
    creates_tables: tuple[str, ...]


def _info(script: Script) -> RevisionInfo:
    tables = tuple(getattr(script.module, "creates_tables", ()))
    return RevisionInfo(script.revision, (script.doc or "").split("\n")[0].strip(), tables)


def ancestors(heads: Sequence[str], environment: Environment = CORE) -> set[str]:
    """Every revision at or below ``heads`` (what a database at those heads has applied)."""
    if not heads:
        return set()
    scripts = _scripts(environment)
    return {s.revision for s in scripts.iterate_revisions(tuple(heads), "base")}


def all_revisions(environment: Environment = CORE) -> list[RevisionInfo]:
    """Every revision of ``environment``, newest first (each after all of its descendants)."""
    return [_info(s) for s in _scripts(environment).walk_revisions()]


@dataclass
class Status:
    """Where a database stands against the scripts (core heads; ``vectors`` apart)."""

    heads: tuple[str, ...]
    head: str
    pending: list[RevisionInfo] = field(default_factory=list)
    vectors: str | None = None

    @property
    def current(self) -> str | None:
        """The current revision(s), comma-separated; ``None`` when never migrated."""
        return ", ".join(self.heads) or None

    @property
    def up_to_date(self) -> bool:
        """True when nothing is pending."""
        return self.heads == (self.head,)


def status(engine: Engine) -> Status:
    """Current core revision(s), head, the core revisions still to apply (oldest first), and
    the ``vectors`` revision when that branch is applied."""
    with connect(engine, "read the schema revision") as conn:
        heads = current_heads(conn)
        vectors = environments.vectors_version(conn)
    applied = ancestors(heads)
    pending = [r for r in reversed(all_revisions()) if r.revision not in applied]
    return Status(heads=heads, head=head(), pending=pending, vectors=vectors)


@contextmanager
def connect(engine: Engine, action: str) -> Iterator[Connection]:
    """A connection whose driver errors surface as sentinel-db's own, naming ``action``."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise translate(exc, action=action) from exc


def _run(
    engine: Engine, action: str, steps: Any, *, attributes: dict[str, Any] | None = None
) -> None:
    """Run ``steps(cfg, conn)`` in one transaction (one migration lock, all or nothing)."""
    try:
        with engine.begin() as conn:
            cfg = make_config(connection=conn)
            cfg.attributes.update(attributes or {})
            steps(cfg, conn)
    except CommandError as exc:
        raise MigrationError(f"{action}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise translate(exc, action=action) from exc


def upgrade(
    engine: Engine,
    revision: str = "head",
    *,
    rls_anon_read: bool | None = None,
    with_vectors: bool = False,
) -> Status:
    """Upgrade to ``revision`` (default: the core head) under the migration lock.

    From any partial state (a table rolled back) this brings every branch to ``revision``.
    ``rls_anon_read`` overrides the ``RLS_ANON_READ`` setting the security revisions read.
    ``with_vectors`` also applies the optional ``vectors`` branch, in the same transaction.
    Returns the new status.

    Raises:
        MigrationError: ``with_vectors`` on a server without pgvector (nothing is changed).
    """
    attributes = {} if rls_anon_read is None else {"rls_anon_read": rls_anon_read}
    target = head() if revision == "head" else revision
    if with_vectors:
        vector_indexes.require_vector_extension(engine)

    def steps(cfg: Config, conn: Connection) -> None:
        command.upgrade(cfg, target)
        if with_vectors:
            vectors = make_config(VECTORS, connection=conn)
            vectors.attributes.update(attributes)
            command.upgrade(vectors, "head")

    _run(engine, "migrate", steps, attributes=attributes)
    if with_vectors:
        vector_indexes.build_vector_indexes(engine)
    return status(engine)


def downgrade(engine: Engine, revision: str) -> Status:
    """Downgrade the whole schema to exactly ``revision`` (``base`` removes everything).

    Alembic's ``downgrade REV`` only removes REV's descendants; revisions on other branches
    that REV does not include are then taken off one head at a time, in the same transaction.
    The optional ``vectors`` history depends on no table, so it stays unless ``revision`` is
    ``base``.
    """

    def steps(cfg: Config, conn: Connection) -> None:
        if revision == "base" and environments.vectors_version(conn) is not None:
            command.downgrade(make_config(VECTORS, connection=conn), "base")
        keep = set() if revision == "base" else ancestors((revision,))
        command.downgrade(cfg, revision)
        while extra := [h for h in current_heads(conn) if h not in keep]:
            command.downgrade(cfg, f"{extra[0]}@-1")

    _run(engine, "rollback", steps)
    return status(engine)


def downgrade_branches(engine: Engine, targets: Sequence[tuple[str, str]]) -> Status:
    """Branch-qualified downgrades (``label@rev``), each while ``revision`` is still applied.

    ``targets`` holds ``(target, revision)`` pairs; all run in one transaction, so a rollback of
    several tables happens completely or not at all.
    """

    def steps(cfg: Config, conn: Connection) -> None:
        for target, revision in targets:
            if revision in ancestors(current_heads(conn)):
                command.downgrade(cfg, target)

    _run(engine, "rollback", steps)
    return status(engine)


def downgrade_branch(engine: Engine, target: str) -> Status:
    """One branch-qualified downgrade of the core history (``label@rev`` or ``label@base``)."""
    _run(engine, "rollback", lambda cfg, _: command.downgrade(cfg, target))
    return status(engine)


def downgrade_vectors(engine: Engine, revision: str) -> Status:
    """Downgrade the optional ``vectors`` history to ``revision`` (``base`` removes it)."""

    def steps(_: Config, conn: Connection) -> None:
        command.downgrade(make_config(VECTORS, connection=conn), revision)

    _run(engine, "rollback", steps)
    return status(engine)


def upgrade_sql(revision_range: str = "head", environment: Environment = CORE) -> str:
    """The SQL an upgrade would run (Alembic offline mode); nothing is executed."""
    out = io.StringIO()
    if revision_range == "head":
        revision_range = head(environment)
    try:
        command.upgrade(make_config(environment, output=out), revision_range, sql=True)
    except CommandError as exc:
        raise MigrationError(f"cannot render SQL for {revision_range}: {exc}") from exc
    return out.getvalue()


def pending_sql(engine: Engine, revision: str = "head") -> str:
    """The SQL that upgrading this database to ``revision`` would run."""
    heads = status(engine).heads
    target = head() if revision == "head" else revision
    if heads == (target,):
        return ""
    if len(heads) > 1:
        raise MigrationError(
            "the database is at several branch heads (a table was rolled back): "
            "a dry run can only start from one revision",
            hint="run `sentinel-db migrate` to bring it back to head",
        )
    return upgrade_sql(f"{heads[0]}:{target}" if heads else target)


def drift(engine: Engine) -> list[Any]:
    """Differences between the live schema and the models (empty when none)."""
    with connect(engine, "compare the schema") as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_schemas": True,
                "include_name": include_name,
                "include_object": include_object,
                "version_table": VERSION_TABLE,
            },
        )
        return list(compare_metadata(ctx, Base.metadata))


_LOCATE_SQL = text(
    "SELECT coalesce(to_regclass(format('%I.%I', CAST(:schema AS text), CAST(:name AS text))),"
    " to_regclass(format('%I', CAST(:name AS text))))::text"
)


def locate_tables(conn: Connection) -> dict[str, str | None]:
    """Where each of sentinel-db's tables is (its SQL name), or ``None`` when it is missing.

    A bookkeeping table is looked for in its schema, then (before that revision) beside the
    reference tables in the current schema.
    """
    found: dict[str, str | None] = {}
    for name in ALL_TABLES:
        schema = SCHEMA_BY_TABLE.get(name) or "pg_catalog"  # pg_catalog: never ours, so skipped
        row = conn.execute(_LOCATE_SQL, {"schema": schema, "name": name}).scalar_one()
        found[name] = None if row is None else str(row)
    return found


def existing_tables(engine: Engine) -> dict[str, bool]:
    """Which of sentinel-db's tables exist in the database."""
    with connect(engine, "list tables") as conn:
        return {name: where is not None for name, where in locate_tables(conn).items()}
