"""The reject file: every rejected row with its file, line, column and reason, as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any

from sentinel_db.importers.files import REJECT_SUFFIX

REJECT_HEADER = ("file", "line", "column", "reason", "row")


class RejectFile:
    """The reject file, opened on the first rejected row and appended to as rows come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def write(self, file: str, line: int | None, column: str, reason: str, row: list[str]) -> None:
        """Append one rejected row (``row`` as its original fields)."""
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(REJECT_HEADER)
        buffer = io.StringIO()
        # The terminator must hold \r and \n so that fields containing them are quoted.
        csv.writer(buffer, lineterminator="\r\n").writerow(row)
        self._writer.writerow(
            (file, "" if line is None else line, column, reason, buffer.getvalue()[:-2])
        )

    @property
    def used(self) -> bool:
        """True once a row was written."""
        return self._writer is not None

    def close(self) -> None:
        """Close the file if it was opened."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._writer = None


def default_reject_path(path: Path) -> Path:
    """``<name>.csv.rejects.csv`` beside the source file."""
    return (
        path.with_name(path.name + REJECT_SUFFIX)
        if path.suffix
        else path.with_suffix(REJECT_SUFFIX)
    )
