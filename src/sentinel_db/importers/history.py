"""``import_runs``: one row per file per run, and finding runs whose process died.

A file's import holds a transaction-level advisory lock keyed by its ``import_runs`` row for the
whole of its transaction. The lock is taken *before* the ``running`` row is written (in its own
short transaction, so history survives a failed import), and the row is finished inside the
import's transaction on success, so the lock covers every moment the row says ``running``. A
``running`` row whose lock nobody holds belongs to a process that ended without finishing
(killed, machine lost): :func:`reap_dead_runs` marks it ``failed``. No timeout is involved, so a
slow import is never mistaken for a dead one, and transaction-scoped locks work through a
transaction pooler (session-level advisory locks would not).
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db import __version__
from sentinel_db.errors import SentinelDBError, translate
from sentinel_db.importers.reaper import RUN_LOCK_CLASS, RUN_LOCK_KEY, reap_dead
from sentinel_db.importers.reaper import missing_schema as _missing_schema
from sentinel_db.importers.report import FileReport
from sentinel_db.records.models import ImportRun
from sentinel_db.records.tables import sql_name
from sentinel_db.redact import library_logger
from sentinel_db.runtime.db import Database

log = library_logger("sentinel_db.importers")

_VERSION_WIDTH = 32
_HOLD_LOCK = f"SELECT pg_advisory_xact_lock({RUN_LOCK_CLASS}, {RUN_LOCK_KEY.format('%s::uuid')})"


def hold_run_lock(conn: psycopg.Connection[Any], row_id: uuid.UUID) -> None:
    """Take the lock that says run ``row_id`` is alive, until ``conn``'s transaction ends."""
    conn.execute(_HOLD_LOCK, (str(row_id),))


def reap_dead_runs(db: Database) -> int:
    """Mark ``failed`` every ``running`` row whose import no longer holds its lock.

    Returns how many rows were marked. A live import holds its lock, so it is never marked.
    """
    with db.unit_of_work() as session:
        return reap_dead(session)


def start_run(
    db: Database,
    *,
    row_id: uuid.UUID,
    run_id: uuid.UUID,
    table: str,
    path: str,
    sha256: str | None,
    report: FileReport | None = None,
) -> uuid.UUID:
    """Record that a file's import has started (or, given ``report``, how it ended).

    The caller already holds :func:`hold_run_lock` for ``row_id`` when the row says running.
    """
    values: dict[str, Any] = {"status": "running", "file_sha256": sha256}
    if report is not None:
        values = {**_finished(report), "finished_at": func.now()}
    try:
        with db.unit_of_work() as session:
            run = ImportRun(
                id=row_id,
                run_id=run_id,
                table_name=table,
                source_path=path,
                sentinel_version=__version__[:_VERSION_WIDTH],
                **values,
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


def _finished(report: FileReport) -> dict[str, Any]:
    return {
        "status": report.status,
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


_FINISH_IN_TRANSACTION = (
    f"UPDATE {sql_name('import_runs')} SET status = %(status)s, finished_at = clock_timestamp(),"
    " rows_read = %(rows_read)s, inserted = %(inserted)s, updated = %(updated)s,"
    " unchanged = %(unchanged)s, rejected = %(rejected)s, warnings = %(warnings)s,"
    " error = %(error)s, file_sha256 = %(file_sha256)s,"
    " duration_seconds = %(duration_seconds)s, rows_per_second = %(rows_per_second)s,"
    " peak_memory_bytes = %(peak_memory_bytes)s WHERE id = %(id)s"
)


def finish_run_in(conn: psycopg.Connection[Any], row_id: uuid.UUID, report: FileReport) -> None:
    """Record how the import ended inside its own transaction (commits with the data)."""
    conn.execute(_FINISH_IN_TRANSACTION, {**_finished(report), "id": str(row_id)})


def finish_run(db: Database, run_row: uuid.UUID, report: FileReport) -> None:
    """Record how a file's import ended, after its transaction was rolled back."""
    values = {**_finished(report), "finished_at": func.now()}
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
    """The most recent import runs, newest first (runs whose process died marked first)."""
    reap_dead_runs(db)
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
