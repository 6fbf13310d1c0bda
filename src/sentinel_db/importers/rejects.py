"""Reject files: the rejected rows, ready to fix and import again, and why each was rejected."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

ERRORS_HEADER = ("file", "line", "column", "reason", "reject_row")


def errors_path_for(reject_path: Path) -> Path:
    """The sibling file holding the reasons: ``x.rejects.csv`` -> ``x.rejects.errors.csv``."""
    stem = reject_path.name.removesuffix(".csv")
    return reject_path.with_name(stem + ".errors.csv")


class RejectSink:
    """Rejected rows, ready to fix and import again, and the reasons in a sibling file.

    The reject file has the source file's header and its rejected rows exactly as they were
    read; ``<reject file>.errors.csv`` says why, row by row (``reject_row`` counts the reject
    file's data rows from 1). Both are opened on the first rejected row. A source with a
    different header (another table, in a directory import) continues in a new pair of files,
    ``<name>-2.csv`` and so on.
    """

    def __init__(self, path: Path) -> None:
        self.first_path = path
        self.path = path
        self._header: list[str] | None = None
        self._pending: list[str] | None = None
        self._rows: Any = None
        self._errors: Any = None
        self._handles: list[IO[str]] = []
        self._count = 0
        self._parts = 1
        self.used = False

    def begin_file(self, header: list[str]) -> None:
        """The rows that follow come from a source with this header."""
        self._pending = header

    def _open(self) -> None:
        header = self._pending or []
        if self._rows is not None and header == self._header:
            return
        if self._rows is not None:
            self.close()
            self._parts += 1
            self.path = self.first_path.with_name(
                f"{self.first_path.stem}-{self._parts}{self.first_path.suffix}"
            )
        self._header = header
        rows = self.path.open("w", encoding="utf-8", newline="")
        errors = errors_path_for(self.path).open("w", encoding="utf-8", newline="")
        self._handles = [rows, errors]
        self._rows, self._errors = csv.writer(rows), csv.writer(errors)
        self._rows.writerow(header)
        self._errors.writerow(ERRORS_HEADER)
        self._count = 0
        self.used = True

    def write(
        self, file: str, line: int | None, reasons: list[tuple[str, str]], row: list[str]
    ) -> None:
        """Write one rejected row and every reason it was rejected for."""
        self._open()
        self._rows.writerow(row)
        self._count += 1
        for column, reason in reasons:
            self._errors.writerow((file, "" if line is None else line, column, reason, self._count))

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []
        self._rows = self._errors = None
