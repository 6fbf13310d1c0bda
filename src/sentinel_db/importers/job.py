"""One file into one table: the steps of an import inside a transaction the caller opened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from sentinel_db.config import get_settings
from sentinel_db.errors import ConnectionFailedError
from sentinel_db.importers import history as history
from sentinel_db.importers.copy_failure import locate_refused_row
from sentinel_db.importers.embeddings import make_stage, stale_vectors
from sentinel_db.importers.reader import CsvStream, FileProblem
from sentinel_db.importers.rejects import RejectSink, SourceFormat
from sentinel_db.importers.report import (
    PHASE_CHECKS,
    PHASE_COMMIT,
    PHASE_LOCK,
    PHASE_ROLLBACK,
    FileReport,
    Problem,
    ProgressCallback,
    ProgressEvent,
)
from sentinel_db.importers.tables import TableSpec
from sentinel_db.importers.validate import RowChecker
from sentinel_db.records.embeddings import EMBEDDING_TABLES


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


class Aborted(Exception):
    """Rows were rejected under all-or-nothing: roll the file back."""


def emit(progress: ProgressCallback | None, event: ProgressEvent) -> None:
    if progress is not None:
        progress(event)


class FileJob:
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
        self._rejected: dict[int, list[tuple[str, str]]] = {}  # line -> reasons, written last
        self.stage = make_stage(conn, spec, number)
        self.settings = get_settings()
        self.total_bytes = 0

    def _problem(self, line: int | None, column: str, reason: str) -> Problem:
        return Problem(str(self.path), line, column, reason)

    def _phase(self, name: str) -> None:
        """Tell the caller a server-side phase began (the client only waits from here on)."""
        total = self.total_bytes
        emit(
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
                if problem.line is not None:
                    self._rejected[problem.line] = [(problem.column, problem.reason)]
                self._write_original_rows(self._rejected)
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
            raise Aborted
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
        try:
            self._copy_rows(stream, checker, batch_size, event)
        except (psycopg.Error, FileProblem, Aborted):
            raise
        except Exception as exc:
            # A connection killed mid-COPY (through a pooler, say) can surface from the driver
            # as something other than its own error; it is still a lost connection.
            if self.conn.closed or self.conn.broken:
                raise ConnectionFailedError(
                    "connection to the database was lost during COPY; nothing of this file was"
                    " written"
                ) from exc
            raise

    def _copy_rows(
        self, stream: CsvStream, checker: RowChecker, batch_size: int, event: ProgressEvent
    ) -> None:
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
                    emit(self.progress, event)
            for record in batch:
                copy.write_row(record)

    def _reject_fields(self, line: int, fields: list[str], reasons: list[tuple[str, str]]) -> None:
        column, reason = reasons[0]
        if len(reasons) > 1:
            reason += f" (and {len(reasons) - 1} more)"
        self.report.reject(self._problem(line, column, reason))
        self._rejected[line] = reasons

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
        for line, more in reasons.items():
            self._rejected.setdefault(line, []).extend(more)
        if self._rejected:
            self._write_original_rows(self._rejected)

    def _write_original_rows(self, reasons: dict[int, list[tuple[str, str]]]) -> None:
        """Rejected records copied from the source file byte for byte, in line order."""
        with CsvStream(
            self.path,
            encoding=self.options.encoding,
            max_field_size=self.options.max_field_size or self.settings.db_max_field_size,
            hash_bytes=False,
            keep_raw=True,
        ) as stream:
            stream.read_header(self.spec.required, self.spec.columns)
            header = stream.raw_header
            newline = "\r\n" if header.endswith("\r\n") else "\r" if header.endswith("\r") else "\n"
            self.rejects.begin_file(
                SourceFormat(
                    header=header if header.endswith(("\n", "\r")) else header + newline,
                    encoding=stream.write_encoding(),
                    newline=newline,
                )
            )
            for line, _ in stream.records():
                if line in reasons:
                    record = stream.raw_record
                    if not record.endswith(("\n", "\r")):
                        record += newline  # the last line of a file without a final newline
                    self.rejects.write(str(self.path), line, reasons[line], record)
