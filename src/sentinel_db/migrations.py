"""Alembic glue: a Config built in code, and upgrade / downgrade / status / drift / SQL."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, select, table
from sqlalchemy import func as sa_func
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from alembic import command
from sentinel_db.embeddings import VECTORS_BRANCH
from sentinel_db.errors import MigrationError, UsageError, translate
from sentinel_db.models import ALL_TABLES, Base

log = logging.getLogger("sentinel_db.migrations")

VERSION_TABLE = "sentinel_db_alembic_version"
# pg_advisory_xact_lock key shared by every `migrate` (0x53454e54 = "SENT").
MIGRATION_LOCK_KEY = 0x53454E54_0001

_PACKAGE_SCRIPTS = Path(__file__).resolve().parent / "_alembic"
_REPO_SCRIPTS = Path(__file__).resolve().parents[2] / "alembic"


def script_location() -> Path:
    """Where the revision scripts are: inside an installed wheel, else the repository's."""
    for candidate in (_PACKAGE_SCRIPTS, _REPO_SCRIPTS):
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationError("the Alembic revision scripts are missing from this installation")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Consider only sentinel-db's own tables: never Supabase's or anyone else's."""
    if type_ == "table":
        return name in Base.metadata.tables
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
        return name in Base.metadata.tables
    return True


def make_config(
    *, connection: Connection | None = None, output: io.StringIO | None = None
) -> Config:
    """An Alembic Config pointing at our scripts, optionally bound to a live connection."""
    cfg = Config(output_buffer=output, stdout=output or io.StringIO())
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    cfg.attributes["url"] = "postgresql+psycopg://"
    return cfg


def engine_for_alembic() -> Engine:
    """An unpooled engine from the settings, for `alembic` run from the command line."""
    from sentinel_db.config import get_settings
    from sentinel_db.db import create_db_engine

    settings = get_settings()
    url = settings.url
    if url is None:
        from sentinel_db.config import parse_database_url
        from sentinel_db.embedded import default_data_dir, embedded_url

        url = parse_database_url(embedded_url(settings.embedded_dir or default_data_dir()))
    return create_db_engine(url, settings, pool=False)


def url_for_alembic() -> str:
    """A dialect-only URL for offline (SQL) mode: no server and no secret needed."""
    return "postgresql+psycopg://"


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(make_config())


def _is_optional(scripts: ScriptDirectory, revision: str) -> bool:
    """True for revisions of an optional branch (``vectors``), which plain ``migrate`` skips."""
    script = scripts.get_revision(revision)
    return script is not None and VECTORS_BRANCH in script.branch_labels


def head() -> str:
    """The newest revision id of the core schema (optional branches left out)."""
    scripts = _scripts()
    heads = [h for h in scripts.get_heads() if not _is_optional(scripts, h)]
    if len(heads) != 1:
        raise MigrationError(f"expected one head revision, found {len(heads)}")
    return heads[0]


def _current_heads(conn: Connection) -> tuple[str, ...]:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return tuple(ctx.get_current_heads())


def current(conn: Connection) -> str | None:
    """The core revision the database is at (``None`` when it has never been migrated)."""
    scripts = _scripts()
    core = [h for h in _current_heads(conn) if not _is_optional(scripts, h)]
    return core[0] if core else None


def current_vectors(conn: Connection) -> str | None:
    """The ``vectors`` branch revision the database is at (``None`` when not applied)."""
    scripts = _scripts()
    found = [h for h in _current_heads(conn) if _is_optional(scripts, h)]
    return found[0] if found else None


@dataclass(frozen=True)
class RevisionInfo:
    """One revision: id, one-line description, and the tables it creates."""

    revision: str
    message: str
    creates_tables: tuple[str, ...]


def _info(script: Script) -> RevisionInfo:
    tables = tuple(getattr(script.module, "creates_tables", ()))
    return RevisionInfo(script.revision, (script.doc or "").split("\n")[0].strip(), tables)


def revisions(lower: str | None, upper: str) -> list[RevisionInfo]:
    """Revisions above ``lower`` up to and including ``upper``, newest first."""
    scripts = _scripts()
    return [_info(s) for s in scripts.iterate_revisions(upper, lower or "base")]


@dataclass
class Status:
    """Where a database stands against the scripts."""

    current: str | None
    head: str
    pending: list[RevisionInfo] = field(default_factory=list)
    vectors: str | None = None

    @property
    def up_to_date(self) -> bool:
        """True when nothing is pending."""
        return self.current == self.head


def status(engine: Engine) -> Status:
    """Current revision, head, and the revisions still to apply."""
    with _connect(engine, "read the schema revision") as conn:
        cur = current(conn)
        vectors = current_vectors(conn)
    top = head()
    pending = [] if cur == top else list(reversed(revisions(cur, top)))
    return Status(current=cur, head=top, pending=pending, vectors=vectors)


@contextmanager
def _connect(engine: Engine, action: str) -> Iterator[Connection]:
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise translate(exc, action=action) from exc


def _run(
    engine: Engine, action: str, fn: Any, *args: Any, attributes: dict[str, Any] | None = None
) -> None:
    try:
        with engine.begin() as conn:
            cfg = make_config(connection=conn)
            cfg.attributes.update(attributes or {})
            fn(cfg, *args)
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
    """Upgrade to ``revision`` (default head) under the migration lock; returns the new status.

    ``rls_anon_read`` overrides the ``RLS_ANON_READ`` setting the row-level-security revision reads.
    ``with_vectors`` also applies the optional ``vectors`` branch, in the same transaction.

    Raises:
        MigrationError: ``with_vectors`` on a server without pgvector (nothing is changed).
    """
    attributes = {} if rls_anon_read is None else {"rls_anon_read": rls_anon_read}
    target = head() if revision == "head" else revision
    if with_vectors:
        from sentinel_db.vector_schema import require_vector_extension

        require_vector_extension(engine)

    def apply(cfg: Config) -> None:
        command.upgrade(cfg, target)
        if with_vectors:
            command.upgrade(cfg, f"{VECTORS_BRANCH}@head")

    _run(engine, "migrate", apply, attributes=attributes)
    if with_vectors:
        from sentinel_db.vector_schema import build_vector_indexes

        build_vector_indexes(engine)
    return status(engine)


def downgrade(engine: Engine, revision: str) -> Status:
    """Downgrade to ``revision`` (``base`` removes everything) under the migration lock."""
    _run(engine, "rollback", command.downgrade, revision)
    return status(engine)


def upgrade_sql(revision_range: str = "head") -> str:
    """The SQL an upgrade would run (Alembic offline mode); nothing is executed."""
    out = io.StringIO()
    if revision_range == "head":
        revision_range = head()
    try:
        command.upgrade(make_config(output=out), revision_range, sql=True)
    except CommandError as exc:
        raise MigrationError(f"cannot render SQL for {revision_range}: {exc}") from exc
    return out.getvalue()


def pending_sql(engine: Engine, revision: str = "head") -> str:
    """The SQL that upgrading this database to ``revision`` would run."""
    cur = status(engine).current
    if cur is not None and cur == (head() if revision == "head" else revision):
        return ""
    return upgrade_sql(f"{cur}:{revision}" if cur else revision)


def drift(engine: Engine) -> list[Any]:
    """Differences between the live schema and the models (empty when none)."""
    with _connect(engine, "compare the schema") as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": include_name,
                "include_object": include_object,
                "version_table": VERSION_TABLE,
            },
        )
        return list(compare_metadata(ctx, Base.metadata))


def existing_tables(engine: Engine) -> dict[str, bool]:
    """Which of sentinel-db's tables exist in the database."""
    with _connect(engine, "list tables") as conn:
        present = set(inspect(conn).get_table_names())
    return {name: name in present for name in ALL_TABLES}


@dataclass
class RollbackPlan:
    """What a rollback would undo: the target and each revision with the rows it loses."""

    target: str
    revisions: list[RevisionInfo]
    rows_lost: dict[str, int]


def plan_rollback(
    engine: Engine, *, tables: Sequence[str] = (), to: str | None = None
) -> RollbackPlan:
    """Work out the downgrade target for ``tables`` or ``to`` and what it would remove.

    Raises:
        UsageError: an unknown table, or neither/both of ``tables`` and ``to``.
    """
    if bool(tables) == (to is not None):
        raise UsageError("give either table names or --to REV")
    if to is not None and to.startswith(f"{VECTORS_BRANCH}@"):
        from sentinel_db.vector_schema import plan_vectors_rollback

        return plan_vectors_rollback(engine, to)
    cur = status(engine).current
    if cur is None:
        return RollbackPlan(target="base", revisions=[], rows_lost={})
    applied = revisions(None, cur)  # newest first
    if tables:
        unknown = [t for t in tables if t not in ALL_TABLES]
        if unknown:
            raise UsageError(
                f"unknown table {', '.join(unknown)}; sentinel-db's tables are: "
                + ", ".join(ALL_TABLES)
            )
        creators = [r for r in applied if set(r.creates_tables) & set(tables)]
        if not creators:
            return RollbackPlan(target=cur, revisions=[], rows_lost={})
        oldest = creators[-1]
        scripts = _scripts()
        down = scripts.get_revision(oldest.revision)
        target = str(down.down_revision) if down and down.down_revision else "base"
    else:
        assert to is not None
        target = to
    if target == "base":
        undone = applied
    else:
        try:
            undone = revisions(target, cur)
        except CommandError as exc:
            raise UsageError(f"cannot roll back to {target}: {exc}") from exc
    from sentinel_db.vector_schema import with_dependent_vectors

    undone = with_dependent_vectors(engine, undone)
    present = existing_tables(engine)
    lost: dict[str, int] = {}
    with _connect(engine, "count rows") as conn:
        for rev in undone:
            for name in rev.creates_tables:
                if present.get(name, True):  # tables outside ALL_TABLES come with their branch
                    lost[name] = int(
                        conn.execute(select(sa_func.count()).select_from(table(name))).scalar_one()
                    )
    return RollbackPlan(target=target, revisions=undone, rows_lost=lost)


def upgrade_if_behind(url: URL, settings: Any) -> None:
    """Bring a database to head if it is behind (used only for the embedded server)."""
    from sentinel_db.db import create_db_engine

    engine = create_db_engine(url, settings, pool=False)
    try:
        if not status(engine).up_to_date:
            upgrade(engine, rls_anon_read=settings.rls_anon_read)
    finally:
        engine.dispose()
