"""Importing files: stream → validate → COPY into staging → checks → upsert, one transaction each."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db.errors import ExitCode, MigrationError, SentinelDBError, translate
from sentinel_db.importers import history as history
from sentinel_db.importers.files import REJECT_SUFFIX, discover, require_files
from sentinel_db.importers.job import Aborted, FileJob, ImportOptions, emit
from sentinel_db.importers.reader import FileProblem, sha256_of
from sentinel_db.importers.rejects import RejectSink
from sentinel_db.importers.report import (
    FileReport,
    ImportReport,
    Problem,
    ProgressCallback,
    ProgressEvent,
)
from sentinel_db.importers.tables import table_spec
from sentinel_db.runtime.db import Database


@contextlib.contextmanager
def _raw_connection(db: Database) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection's psycopg driver connection; invalidated if it broke."""
    with db.engine.connect() as sa_conn:
        pg = sa_conn.connection.driver_connection
        assert isinstance(pg, psycopg.Connection)
        try:
            yield pg
        except BaseException:
            if pg.closed or pg.broken:
                sa_conn.invalidate()
            else:
                with contextlib.suppress(psycopg.Error):
                    pg.rollback()
            raise


def _default_reject_path(path: Path) -> Path:
    return (
        path.with_name(path.name + REJECT_SUFFIX)
        if path.suffix
        else path.with_suffix(REJECT_SUFFIX)
    )


def _import_one(
    db: Database,
    conn: psycopg.Connection[Any] | None,
    path: Path,
    table: str,
    *,
    options: ImportOptions,
    run_id: uuid.UUID,
    progress: ProgressCallback | None,
    number: int,
    rejects: RejectSink | None,
) -> FileReport:
    spec = table_spec(table)
    report = FileReport(path=str(path), table=spec.name, dry_run=options.dry_run)
    started = time.perf_counter()
    total = path.stat().st_size
    emit(progress, ProgressEvent(str(path), spec.name, "start", 0, total, 0))
    if not options.force and not options.dry_run:
        report.sha256 = sha256_of(path)
        if report.sha256 == history.last_success_sha(db, spec.name) and _has_rows(db, spec.name):
            report.status = "skipped"
            report.error = "unchanged since the last successful import (use --force to re-import)"
            history.start_run(
                db,
                row_id=uuid.uuid4(),
                run_id=run_id,
                table=spec.name,
                path=str(path),
                sha256=report.sha256,
                report=report,
            )
            emit(progress, ProgressEvent(str(path), spec.name, "done", total, total, 0))
            return report
    own_rejects = rejects is None
    sink = rejects or RejectSink(options.reject_file or _default_reject_path(path))
    run_row = None if options.dry_run else uuid.uuid4()
    recorded = finished = False
    try:
        with contextlib.ExitStack() as stack:
            own_conn = conn is None
            if conn is None:
                conn = stack.enter_context(_raw_connection(db))
            job = FileJob(
                conn,
                path,
                spec,
                options=options,
                rejects=sink,
                report=report,
                progress=progress,
                number=number,
            )
            try:
                with conn.transaction():
                    if run_row is not None:
                        # Lock first, then the visible `running` row: while the row says
                        # running, the lock proves the import is alive (see history).
                        history.hold_run_lock(conn, run_row)
                        history.start_run(
                            db,
                            row_id=run_row,
                            run_id=run_id,
                            table=spec.name,
                            path=str(path),
                            sha256=report.sha256,
                        )
                        recorded = True
                    job.run()
                    if options.dry_run and own_conn:
                        raise psycopg.Rollback()
                    if run_row is not None:
                        report.status = "partial" if report.rejected else "succeeded"
                        # The commit is still to come; the history row records the time so far.
                        report.seconds = time.perf_counter() - started
                        history.finish_run_in(conn, run_row, report)
                finished = run_row is not None
            except FileProblem as exc:
                report.fail(report_problem(path, exc), exit_code=ExitCode.REJECTED)
            except Aborted:
                report.fail(
                    Problem(
                        str(path),
                        None,
                        "",
                        f"{report.rejected} row(s) rejected; "
                        "--all-or-nothing: nothing of this file was written",
                    ),
                    exit_code=ExitCode.REJECTED,
                )
    except (psycopg.Error, SQLAlchemyError, SentinelDBError) as exc:
        error = translate(exc, action="import")
        report.fail(Problem(str(path), None, "", error.message), exit_code=error.exit_code)
        if isinstance(error, MigrationError):
            raise error from exc  # a missing table is the database's problem, not this file's
    finally:
        if own_rejects:
            sink.close()
            report.reject_notes = list(sink.notes)
        if sink.used:
            report.reject_file = str(sink.path)
        report.seconds = time.perf_counter() - started
        if report.status in ("succeeded", "partial") and report.rejected:
            report.status = "partial"
            report.exit_code = int(ExitCode.REJECTED)
        if options.dry_run and report.status in ("succeeded", "partial"):
            report.status = "dry-run"
        if recorded and not finished and run_row is not None:
            history.finish_run(db, run_row, report)
        emit(progress, ProgressEvent(str(path), spec.name, "done", total, total, report.rows_read))
    return report


def _has_rows(db: Database, table: str) -> bool:
    """Whether ``table`` holds any row: an emptied or recreated table is never "unchanged"."""
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
    try:
        with _raw_connection(db) as conn, conn.transaction():
            row = conn.execute(query).fetchone()
    except psycopg.Error as exc:
        raise translate(exc, action=f"read {table}") from exc
    return bool(row and row[0])


def report_problem(path: Path, exc: FileProblem) -> Problem:
    """A whole-file problem as a report entry."""
    return Problem(str(path), exc.line, exc.column, exc.reason)


def import_file(
    db: Database,
    path: Path | str,
    table: str,
    *,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
    run_id: uuid.UUID | None = None,
) -> FileReport:
    """Import one CSV file into ``table`` in one transaction.

    Rejected rows are skipped and reported (and written to the reject file); whole-file
    problems and database failures leave the table unchanged and mark the report failed.

    Raises:
        UsageError: ``table`` is not importable or the file does not exist.
    """
    from sentinel_db.errors import UsageError

    path = Path(path)
    table_spec(table)
    if not path.is_file():
        raise UsageError(f"{path} does not exist or is not a file")
    options = options or ImportOptions()
    if not options.dry_run:
        history.reap_dead_runs(db)
    return _import_one(
        db,
        None,
        path,
        table,
        options=options,
        run_id=run_id or uuid.uuid4(),
        progress=progress,
        number=0,
        rejects=None,
    )


def import_directory(
    db: Database,
    source: Path | str,
    *,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import every recognised file under ``source`` (controls and rules before mappings).

    Raises:
        UsageError: ``source`` does not exist.
        ImportValidationError: ``source`` holds no recognised file.
    """
    source = Path(source)
    options = options or ImportOptions()
    found = discover(source)
    require_files(found)
    if not options.dry_run:
        history.reap_dead_runs(db)
    report = ImportReport(source=str(source), run_id=str(uuid.uuid4()), dry_run=options.dry_run)
    report.skipped = [(str(p), reason) for p, reason in found.skipped]
    run_id = uuid.UUID(report.run_id)
    started = time.perf_counter()
    shared = RejectSink(options.reject_file) if options.reject_file else None
    try:
        if options.dry_run:
            # One transaction for the whole run, so mappings are checked against the controls and
            # rules this run would load; each file gets a savepoint; everything is rolled back.
            with _raw_connection(db) as conn, conn.transaction(force_rollback=True):
                for number, (path, table) in enumerate(found.files):
                    report.files.append(
                        _import_one(
                            db,
                            conn,
                            path,
                            table,
                            options=options,
                            run_id=run_id,
                            progress=progress,
                            number=number,
                            rejects=shared,
                        )
                    )
        else:
            for number, (path, table) in enumerate(found.files):
                report.files.append(
                    _import_one(
                        db,
                        None,
                        path,
                        table,
                        options=options,
                        run_id=run_id,
                        progress=progress,
                        number=number,
                        rejects=shared,
                    )
                )
    finally:
        if shared is not None:
            shared.close()
            users = [f for f in report.files if f.reject_file]
            if users:
                # One file named by --reject-file holds every file's rejects: say so once.
                users[-1].reject_notes = list(shared.notes)
                for user in users:
                    user.reject_file = str(shared.path)
    report.seconds = time.perf_counter() - started
    return report
