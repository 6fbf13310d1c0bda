"""``import_runs``: one row per file per run, written outside the file's own transaction.

The row is created as ``running`` in its own short transaction before loading starts and
finished in another, so an import that dies midway still leaves an honest record.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db import __version__
from sentinel_db.db import Database
from sentinel_db.errors import MigrationError, SentinelDBError, translate
from sentinel_db.importers.report import FileReport
from sentinel_db.models import ImportRun

_VERSION_WIDTH = 32
_UNDEFINED_TABLE = "42P01"


def _missing_schema(exc: BaseException) -> None:
    """Raise a clear error when the failure is an unmigrated database."""
    cause = getattr(exc, "orig", None) or exc.__cause__
    cause = getattr(cause, "orig", None) or cause
    if getattr(cause, "sqlstate", None) == _UNDEFINED_TABLE:
        raise MigrationError(
            "the database has no sentinel-db schema (import_runs is missing)",
            hint="run `sentinel-db migrate` first",
        ) from exc


def start_run(
    db: Database, *, run_id: uuid.UUID, table: str, path: str, sha256: str | None
) -> uuid.UUID:
    """Record that a file's import has started; returns the row's id."""
    try:
        with db.unit_of_work() as session:
            run = ImportRun(
                run_id=run_id,
                table_name=table,
                source_path=path,
                file_sha256=sha256,
                status="running",
                sentinel_version=__version__[:_VERSION_WIDTH],
            )
            session.add(run)
            session.flush()
            return run.id
    except SQLAlchemyError as exc:
        _missing_schema(exc)
        raise translate(exc, action="recording the import") from exc


def peak_memory_bytes() -> int | None:
    """This process's peak resident memory so far, in bytes (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def finish_run(db: Database, run_row: uuid.UUID, report: FileReport) -> None:
    """Record how a file's import ended."""
    values: dict[str, Any] = {
        "status": report.status,
        "finished_at": func.now(),
        "rows_read": report.rows_read,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "warnings": report.warnings,
        "error": report.error,
        "file_sha256": report.sha256,
        "duration_seconds": report.seconds,
        "rows_per_second": report.rows_per_second,
        "peak_memory_bytes": peak_memory_bytes(),
    }
    try:
        with db.unit_of_work() as session:
            session.execute(update(ImportRun).where(ImportRun.id == run_row).values(**values))
    except SQLAlchemyError as exc:
        raise translate(exc, action="recording the import") from exc


def last_success_sha(db: Database, table: str) -> str | None:
    """SHA-256 of the file last imported successfully into ``table``."""
    try:
        with db.unit_of_work(read_only=True) as session:
            return session.execute(
                select(ImportRun.file_sha256)
                .where(ImportRun.table_name == table, ImportRun.status == "succeeded")
                .order_by(ImportRun.started_at.desc())
                .limit(1)
            ).scalar_one_or_none()
    except SentinelDBError as exc:
        _missing_schema(exc)
        raise


@dataclass(frozen=True)
class RunRecord:
    """One row of import history."""

    run_id: str
    table_name: str
    source_path: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    warnings: int
    error: str | None
    file_sha256: str | None
    sentinel_version: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def list_runs(db: Database, *, table: str | None = None, limit: int = 50) -> list[RunRecord]:
    """The most recent import runs, newest first."""
    query = (
        select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.source_path).limit(limit)
    )
    if table is not None:
        query = query.where(ImportRun.table_name == table)
    with db.unit_of_work(read_only=True) as session:
        return [
            RunRecord(
                run_id=str(run.run_id),
                table_name=run.table_name,
                source_path=run.source_path,
                status=run.status,
                started_at=run.started_at,
                finished_at=run.finished_at,
                rows_read=run.rows_read,
                inserted=run.inserted,
                updated=run.updated,
                unchanged=run.unchanged,
                rejected=run.rejected,
                warnings=run.warnings,
                error=run.error,
                file_sha256=run.file_sha256,
                sentinel_version=run.sentinel_version,
            )
            for run in session.scalars(query)
        ]
