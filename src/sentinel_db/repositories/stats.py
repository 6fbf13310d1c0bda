"""Database statistics: rows, sizes, last import and coverage per reference table."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db.errors import translate
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.rows import Coverage
from sentinel_db.records.tables import sql_name
from sentinel_db.repositories.mappings import PciAwsConfigMappingRepository
from sentinel_db.repositories.tables import count_rows
from sentinel_db.repositories.vectors import ModelStats, vector_stats

_SIZES = text(
    "SELECT pg_table_size(CAST(:t AS regclass)), pg_indexes_size(CAST(:t AS regclass)),"
    " pg_total_relation_size(CAST(:t AS regclass))"
)
_LAST_IMPORTS = text(
    f"""
    SELECT DISTINCT ON (table_name) table_name, status, started_at, finished_at,
           inserted, updated, unchanged, rejected,
           duration_seconds, rows_per_second, peak_memory_bytes
    FROM {sql_name("import_runs")} WHERE status <> 'skipped'  -- an unchanged file skipped is not an import
    ORDER BY table_name, started_at DESC
    """
)


class LastImport(BaseModel):
    """The latest import of one table."""

    model_config = ConfigDict(frozen=True)

    status: str
    started_at: datetime
    finished_at: datetime | None
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    duration_seconds: float | None = None
    rows_per_second: float | None = None
    peak_memory_bytes: int | None = None


class TableStats(BaseModel):
    """Size and freshness of one table."""

    model_config = ConfigDict(frozen=True)

    table: str
    rows: int
    table_bytes: int
    index_bytes: int
    total_bytes: int
    last_import: LastImport | None = None


class DatabaseStats(BaseModel):
    """Every table's figures plus mapping coverage."""

    model_config = ConfigDict(frozen=True)

    tables: list[TableStats]
    coverage: Coverage
    vectors: list[ModelStats] | None = None  # None: the vectors schema is not installed


def database_stats(session: Session) -> DatabaseStats:
    """Row counts, table and index sizes, last import per table, and coverage."""
    counts = count_rows(session, ALL_TABLES)
    try:
        imports = {
            row["table_name"]: LastImport.model_validate(dict(row))
            for row in session.execute(_LAST_IMPORTS).mappings()
        }
        tables = []
        for table in ALL_TABLES:
            size, indexes, total = session.execute(_SIZES, {"t": sql_name(table)}).one()
            tables.append(
                TableStats(
                    table=table,
                    rows=counts[table],
                    table_bytes=int(size),
                    index_bytes=int(indexes),
                    total_bytes=int(total),
                    last_import=imports.get(table),
                )
            )
    except SQLAlchemyError as exc:
        raise translate(exc, action="read statistics") from exc
    coverage = PciAwsConfigMappingRepository(session).coverage()
    return DatabaseStats(tables=tables, coverage=coverage, vectors=vector_stats(session))
