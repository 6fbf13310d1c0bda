"""HNSW indexes for stored vectors: built once a dimension has enough rows, by the table's owner."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db.errors import MigrationError, translate
from sentinel_db.records import embeddings
from sentinel_db.records.embeddings import (
    TARGETS,
    extension_available,
    index_name,
    index_statements,
    missing_extension_message,
    unindexed_dimensions_sql,
)
from sentinel_db.redact import library_logger

_NOT_OWNER: Final = "42501"
log = library_logger("sentinel_db.vectors")


def build_missing_indexes(
    session: Session, parent: str, *, min_rows: int | None = None
) -> list[int]:
    """Build the HNSW index of each dimension of ``parent``'s vectors that has at least
    ``min_rows`` vectors (default ``INDEX_MIN_ROWS``) and no index yet; returns those built.

    Needs the table's owner: for any other role the build is skipped (logged) and queries of
    that dimension stay exact scans.
    """
    table = TARGETS[parent].table
    threshold = embeddings.INDEX_MIN_ROWS if min_rows is None else min_rows
    try:
        missing = [
            int(d)
            for d in session.connection()
            .exec_driver_sql(unindexed_dimensions_sql(table), (threshold,))
            .scalars()
        ]
    except SQLAlchemyError as exc:
        raise translate(exc, action="look for vector indexes") from exc
    built: list[int] = []
    for dims in missing:
        try:
            with session.begin_nested():
                for statement in index_statements(table, dims):
                    session.connection().exec_driver_sql(statement)
            built.append(dims)
        except SQLAlchemyError as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) != _NOT_OWNER:
                raise translate(exc, action="build a vector index") from exc
            log.warning(
                "no HNSW index for %s-dimension vectors of %s: only the table owner can build "
                "it (run `sentinel-db migrate --with vectors` as the owner)",
                dims,
                table,
            )
    return built


def require_vector_extension(engine: Engine) -> None:
    """Raise unless the server has pgvector.

    Raises:
        MigrationError: it has not; the message names the extension and how to get it.
    """
    try:
        with engine.connect() as conn:
            if extension_available(conn):
                return
            message, hint = missing_extension_message(conn)
    except SQLAlchemyError as exc:
        raise translate(exc, action="look for the vector extension") from exc
    raise MigrationError(message, hint=hint)


def build_vector_indexes(engine: Engine) -> list[str]:
    """Build the HNSW indexes that the stored vectors call for and lack; returns their names."""
    built: list[str] = []
    with Session(engine) as session, session.begin():
        for parent, target in TARGETS.items():
            built += [index_name(target.table, d) for d in build_missing_indexes(session, parent)]
    return built
