"""Importing files: stream → validate → COPY into staging → checks → upsert, one transaction each."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db.config import get_settings
from sentinel_db.db import Database
from sentinel_db.embeddings import EMBEDDING_TABLES
from sentinel_db.errors import ExitCode, MigrationError, SentinelDBError, translate
from sentinel_db.importers import history as history
from sentinel_db.importers.copy_failure import locate_refused_row
from sentinel_db.importers.embeddings import make_stage, stale_vectors
from sentinel_db.importers.files import REJECT_SUFFIX, discover, require_files
from sentinel_db.importers.reader import CsvStream, FileProblem, sha256_of
from sentinel_db.importers.rejects import RejectSink
from sentinel_db.importers.report import (
    PHASE_CHECKS,
    PHASE_COMMIT,
    PHASE_LOCK,
    PHASE_ROLLBACK,
    FileReport,
    ImportReport,
    Problem,
    ProgressCallback,
    ProgressEvent,
)
from sentinel_db.importers.tables import TableSpec, table_spec
from sentinel_db.importers.validate import RowChecker


@dataclass(frozen=True)
class ImportOptions:
    """How to import; the defaults suit the everyday run."""

    batch_size: int | None = None
    validate: bool = True
    dry_run: bool = False
    strict: bool = False
    all_or_nothing: bool = False
    reject_file: Path | None = None
    force: bool = False
    encoding: str | None = None
    max_field_size: int | None = None


class _Aborted(Exception):
    """Rows were rejected under all-or-nothing: roll the file back."""


def _emit(progress: ProgressCallback | None, event: ProgressEvent) -> None:
    if progress is not None:
        progress(event)


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


class _FileJob:
    """One file into one table, inside a transaction the caller opened."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        path: Path,
        spec: TableSpec,
        *,
        options: ImportOptions,
        rejects: RejectSink,
        report: FileReport,
        progress: ProgressCallback | None,
        number: int,
    ) -> None:
        self.conn, self.path, self.spec = conn, path, spec
        self.options, self.rejects, self.report, self.progress = options, rejects, report, progress
        self.stage = make_stage(conn, spec, number)
        self.settings = get_settings()
        self.total_bytes = 0

    def _problem(self, line: int | None, column: str, reason: str) -> Problem:
        return Problem(str(self.path), line, column, reason)

    def _phase(self, name: str) -> None:
        """Tell the caller a server-side phase began (the client only waits from here on)."""
        total = self.total_bytes
        _emit(
            self.progress,
            ProgressEvent(
                str(self.path), self.spec.name, "phase", total, total, self.report.rows_read, name
            ),
        )

    def run(self) -> None:
        options, report = self.options, self.report
        batch_size = options.batch_size or self.settings.db_batch_size
        max_field = options.max_field_size or self.settings.db_max_field_size
        with CsvStream(
            self.path,
            encoding=options.encoding,
            max_field_size=max_field,
            hash_bytes=report.sha256 is None,
        ) as stream:
            self.total_bytes = stream.total_bytes
            header = stream.read_header(self.spec.required, self.spec.columns)
            self.rejects.begin_file(header.names)
            for name in header.extra:
                report.warn(self._problem(stream.line, name, "unknown column ignored"))
            checker = RowChecker(self.spec, header, validate=options.validate)
            self.stage.create()
            has_ids = "id" in header.index
            event = ProgressEvent(str(self.path), self.spec.name, "rows", 0, stream.total_bytes, 0)
            try:
                self._copy(stream, checker, batch_size, event)
            except psycopg.DataError as exc:
                if options.validate:
                    raise
                refused = locate_refused_row(
                    exc, self.path, self.spec, encoding=options.encoding, max_field_size=max_field
                )
                if refused is None:
                    raise
                problem = refused.problem
                self.rejects.write(
                    str(self.path), problem.line, [(problem.column, problem.reason)], refused.fields
                )
                raise problem from exc
            if report.sha256 is None:
                report.sha256 = stream.sha256
        self._phase(PHASE_LOCK)
        self.stage.lock()
        self._phase(PHASE_CHECKS)
        self.stage.check_duplicates(has_ids=has_ids)
        if self.spec.name == "pci_aws_config_rule_mappings" or self.spec.name in EMBEDDING_TABLES:
            self.stage.check_references(strict=options.strict)
        self._collect_issues()
        if options.all_or_nothing and report.rejected:
            raise _Aborted
        counts = self.stage.upsert(on_phase=self._phase)
        report.inserted, report.updated, report.unchanged = (
            counts.inserted,
            counts.updated,
            counts.unchanged,
        )
        if counts.updated:
            stale = stale_vectors(self.conn, self.spec.name)
            if stale:
                report.warn(
                    self._problem(
                        None,
                        "chunk",
                        f"{stale} stored vector(s) no longer match their text "
                        "(stale): embed them again",
                    )
                )
        self._phase(PHASE_ROLLBACK if options.dry_run else PHASE_COMMIT)

    def _copy(
        self, stream: CsvStream, checker: RowChecker, batch_size: int, event: ProgressEvent
    ) -> None:
        """Check each row and COPY the good ones into staging, in batches."""
        report = self.report
        with self.conn.cursor() as cur, cur.copy(self.stage.copy_statement()) as copy:
            batch: list[tuple[Any, ...]] = []
            for line, fields in stream.records():
                report.rows_read += 1
                outcome = checker.check(line, fields)
                if isinstance(outcome, list):
                    self._reject_fields(line, fields, outcome)
                    continue
                for message in checker.warnings:
                    column, _, reason = message.partition(": ")
                    report.warn(self._problem(line, column, reason))
                batch.append(outcome)
                if len(batch) >= batch_size:
                    for record in batch:
                        copy.write_row(record)
                    batch.clear()
                    event = ProgressEvent(
                        event.path,
                        event.table,
                        "rows",
                        stream.bytes_read,
                        stream.total_bytes,
                        report.rows_read,
                    )
                    _emit(self.progress, event)
            for record in batch:
                copy.write_row(record)

    def _reject_fields(self, line: int, fields: list[str], reasons: list[tuple[str, str]]) -> None:
        column, reason = reasons[0]
        if len(reasons) > 1:
            reason += f" (and {len(reasons) - 1} more)"
        self.report.reject(self._problem(line, column, reason))
        self.rejects.write(str(self.path), line, reasons, fields)

    def _collect_issues(self) -> None:
        last_rejected: int | None = None
        reasons: dict[int, list[tuple[str, str]]] = {}
        for issue in self.stage.issues_found():
            problem = self._problem(issue.line, issue.column, issue.reason)
            if issue.severity != "error":
                self.report.warn(problem)
                continue
            if issue.line != last_rejected:
                self.report.reject(problem)
                last_rejected = issue.line
            elif len(self.report.errors) < 100:
                self.report.errors.append(problem)
            reasons.setdefault(issue.line, []).append((issue.column, issue.reason))
        if reasons:
            self._write_original_rows(reasons)

    def _write_original_rows(self, reasons: dict[int, list[tuple[str, str]]]) -> None:
        """Rows rejected by the checks in SQL, copied from the source file as they were."""
        with CsvStream(
            self.path,
            encoding=self.options.encoding,
            max_field_size=self.options.max_field_size or self.settings.db_max_field_size,
            hash_bytes=False,
        ) as stream:
            stream.read_header(self.spec.required, self.spec.columns)
            for line, fields in stream.records():
                if line in reasons:
                    self.rejects.write(str(self.path), line, reasons[line], fields)


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
    _emit(progress, ProgressEvent(str(path), spec.name, "start", 0, total, 0))
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
            _emit(progress, ProgressEvent(str(path), spec.name, "done", total, total, 0))
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
            job = _FileJob(
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
            except _Aborted:
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
        if sink.used:
            report.reject_file = str(sink.path)
        if own_rejects:
            sink.close()
        report.seconds = time.perf_counter() - started
        if report.status in ("succeeded", "partial") and report.rejected:
            report.status = "partial"
            report.exit_code = int(ExitCode.REJECTED)
        if options.dry_run and report.status in ("succeeded", "partial"):
            report.status = "dry-run"
        if recorded and not finished and run_row is not None:
            history.finish_run(db, run_row, report)
        _emit(progress, ProgressEvent(str(path), spec.name, "done", total, total, report.rows_read))
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
    report.seconds = time.perf_counter() - started
    return report
