"""Alembic glue for the optional ``vectors`` branch: the pgvector check, its indexes, rollback."""

from __future__ import annotations

from alembic.util import CommandError
from sqlalchemy import Engine, select, table
from sqlalchemy import func as sa_func

from alembic import command
from sentinel_db.embeddings import VECTORS_BRANCH
from sentinel_db.errors import MigrationError, UsageError
from sentinel_db.migrations import (
    RevisionInfo,
    RollbackPlan,
    Status,
    _connect,
    _is_optional,
    _run,
    _scripts,
    revisions,
    status,
)


def build_vector_indexes(engine: Engine) -> list[str]:
    """Build the HNSW indexes that the stored vectors call for and lack; returns their names."""
    from sqlalchemy.orm import Session

    from sentinel_db.embeddings import TARGETS, index_name
    from sentinel_db.repositories.vectors import build_missing_indexes

    built: list[str] = []
    with Session(engine) as session, session.begin():
        for parent, target in TARGETS.items():
            built += [index_name(target.table, d) for d in build_missing_indexes(session, parent)]
    return built


def require_vector_extension(engine: Engine) -> None:
    """Raise unless the server has pgvector.

    Raises:
        MigrationError: it has not; the message names the extension and how to get it.
    """
    from sentinel_db.embeddings import extension_available, missing_extension_message

    with _connect(engine, "look for the vector extension") as conn:
        if not extension_available(conn):
            message, hint = missing_extension_message(conn)
            raise MigrationError(message, hint=hint)


def downgrade_vectors(engine: Engine) -> Status:
    """Remove the optional ``vectors`` branch (its tables); the core schema is left untouched."""
    _run(engine, "rollback", command.downgrade, f"{VECTORS_BRANCH}@base")
    return status(engine)


def with_dependent_vectors(engine: Engine, undone: list[RevisionInfo]) -> list[RevisionInfo]:
    """``undone`` plus the vectors revisions Alembic must undo first, when they depend on it."""
    vectors = status(engine).vectors
    if vectors is None:
        return undone
    scripts = _scripts()
    branch = [r for r in revisions(None, vectors) if _is_optional(scripts, r.revision)]
    needs: set[str] = set()
    for rev in branch:
        script = scripts.get_revision(rev.revision)
        declared = script.dependencies if script is not None else None
        needs.update((declared,) if isinstance(declared, str) else declared or ())
    if needs & {r.revision for r in undone}:
        return branch + undone
    return undone


def plan_vectors_rollback(engine: Engine, target: str) -> RollbackPlan:
    """Undo the ``vectors`` branch down to ``target`` (``vectors@base`` removes it)."""
    cur = status(engine).vectors
    if cur is None:
        return RollbackPlan(target=target, revisions=[], rows_lost={})
    try:
        undone = revisions(None if target == f"{VECTORS_BRANCH}@base" else target, cur)
    except CommandError as exc:
        raise UsageError(f"cannot roll back to {target}: {exc}") from exc
    undone = [r for r in undone if _is_optional(_scripts(), r.revision)]
    lost: dict[str, int] = {}
    with _connect(engine, "count rows") as conn:
        for rev in undone:
            for name in rev.creates_tables:
                lost[name] = int(
                    conn.execute(select(sa_func.count()).select_from(table(name))).scalar_one()
                )
    return RollbackPlan(target=target, revisions=undone, rows_lost=lost)
