"""What an import did: per-file and per-run reports, and the progress events the CLI draws."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sentinel_db.errors import ExitCode

Status = Literal["succeeded", "partial", "failed", "skipped", "dry-run"]
MAX_KEPT_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    """One rejected row, whole-file error, or warning."""

    file: str
    line: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"
        )


@dataclass
class FileReport:
    """The outcome of importing one file into one table."""

    path: str
    table: str
    status: Status = "succeeded"
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    seconds: float = 0.0
    sha256: str | None = None
    error: str | None = None
    exit_code: int = 0
    reject_file: str | None = None
    reject_notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    errors: list[Problem] = field(default_factory=list)
    warning_list: list[Problem] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall time."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def reject(self, problem: Problem) -> None:
        """Count a rejected row, keeping the first few for the report."""
        self.rejected += 1
        if len(self.errors) < MAX_KEPT_PROBLEMS:
            self.errors.append(problem)

    def warn(self, problem: Problem) -> None:
        """Count a warning, keeping the first few for the report."""
        self.warnings += 1
        if len(self.warning_list) < MAX_KEPT_PROBLEMS:
            self.warning_list.append(problem)

    def fail(self, problem: Problem, *, exit_code: ExitCode) -> None:
        """Mark the whole file failed (nothing of it was written)."""
        self.status = "failed"
        self.error = str(problem)
        self.exit_code = int(exit_code)
        self.inserted = self.updated = self.unchanged = 0
        if len(self.errors) < MAX_KEPT_PROBLEMS:
            self.errors.insert(0, problem)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = asdict(self)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        data.pop("warning_list")
        data["errors"] = [asdict(p) | {"message": str(p)} for p in self.errors]
        data["warning_messages"] = [asdict(p) | {"message": str(p)} for p in self.warning_list]
        return data


@dataclass
class ImportReport:
    """The outcome of one import run over a source."""

    source: str
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def total(self, name: str) -> int:
        """Sum of one counter over every file."""
        return sum(int(getattr(report, name)) for report in self.files)

    @property
    def exit_code(self) -> int:
        """0 when every file landed cleanly; otherwise the most telling failure's code."""
        codes = {report.exit_code for report in self.files}
        for code in (ExitCode.CANNOT_CONNECT, ExitCode.FAILED, ExitCode.REJECTED):
            if int(code) in codes:
                return int(code)
        return 0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        counters = ("rows_read", "inserted", "updated", "unchanged", "rejected", "warnings")
        return {
            "source": self.source,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "files": [report.to_dict() for report in self.files],
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "total": {name: self.total(name) for name in counters},
            "exit_code": self.exit_code,
        }


# Phases of one file, in order: the first is client-side (progress by bytes), the others run
# on the server while the client waits; a dry run ends by rolling back instead of committing.
PHASE_READING = "reading and validating"
PHASE_LOCK = "waiting for the table lock"
PHASE_CHECKS = "checking duplicates and references"
PHASE_UPDATE = "updating changed rows"
PHASE_INSERT = "inserting new rows and updating indexes"
PHASE_COMMIT = "committing"
PHASE_ROLLBACK = "rolling back (dry run)"


@dataclass(frozen=True)
class ProgressEvent:
    """Where an import is.

    ``stage`` is ``start``, ``rows`` (while reading), ``phase`` (a new phase began: ``phase``
    names it) or ``done``.
    """

    path: str
    table: str
    stage: Literal["start", "rows", "phase", "done"]
    bytes_read: int
    total_bytes: int
    rows_read: int
    phase: str = PHASE_READING


ProgressCallback = Callable[[ProgressEvent], None]
