"""Reject files: the rejected rows, ready to fix and import again, and why each was rejected.

A reject file holds the source's header line and its rejected records byte for byte as they
were read: same line endings, quoting and encoding (a byte order mark too). Beside it,
``<reject file>.errors.csv`` says why, row by row (``reject_row`` counts the reject file's data
rows from 1); it describes the rejects and is not for importing.

Rows are written to a temporary file first. When the run is over, a reject file already in
place is never overwritten with different content: a person may have fixed it. This run's
rejects then go to the next free name (``x.rejects-2.csv``, ``-3`` and so on), and
:attr:`RejectSink.notes` says what happened, for the report.
"""

from __future__ import annotations

import csv
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ERRORS_HEADER = ("file", "line", "column", "reason", "reject_row")
_NUMBERED = re.compile(r"^(?P<base>.*\.rejects)(?:-(?P<n>\d+))?\.csv$", re.IGNORECASE)


def errors_path_for(reject_path: Path) -> Path:
    """The sibling file holding the reasons: ``x.rejects.csv`` -> ``x.rejects.errors.csv``."""
    stem = reject_path.name.removesuffix(".csv")
    return reject_path.with_name(stem + ".errors.csv")


def numbered(path: Path, number: int) -> Path:
    """``x.rejects.csv`` as its ``number``-th variant (``x.rejects-2.csv``); 1 is itself."""
    if number == 1:
        return path
    match = _NUMBERED.match(path.name)
    if match:
        return path.with_name(f"{match['base']}-{number}.csv")
    return path.with_name(f"{path.stem}-{number}{path.suffix}")


@dataclass(frozen=True)
class SourceFormat:
    """How a source file was written, so its rejects can be written the same way."""

    header: str  # the header line as read, line ending included
    encoding: str
    newline: str

    @property
    def key(self) -> tuple[str, str]:
        """Sources with the same key can share one reject file."""
        return self.header.rstrip("\r\n"), self.encoding


class RejectSink:
    """Rejected records of one or more sources, kept apart from any reject file in place.

    A source with a different header or encoding (another table, in a directory import)
    continues in the next numbered file.
    """

    def __init__(self, path: Path) -> None:
        self.first_path = path
        self.path = path
        self.notes: list[str] = []
        self.used = False
        self._format: SourceFormat | None = None
        self._pending: SourceFormat | None = None
        self._number = 0
        self._rows: IO[str] | None = None
        self._errors: IO[str] | None = None
        self._errors_csv: Any = None
        self._temp: Path | None = None
        self._count = 0

    def begin_file(self, source: SourceFormat) -> None:
        """The records that follow come from a source written like this."""
        self._pending = source

    def _open(self) -> None:
        source = self._pending
        assert source is not None, "begin_file() comes first"
        if self._rows is not None and self._format is not None:
            if source.key == self._format.key:
                return
            self._finish()
        self._format = source
        self._number += 1
        target = numbered(self.first_path, self._number)
        self._temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        self._rows = self._temp.open("w", encoding=source.encoding, newline="")
        self._rows.write(source.header)
        errors_temp = errors_path_for(self._temp)
        self._errors = errors_temp.open("w", encoding="utf-8", newline="")
        self._errors_csv = csv.writer(self._errors, lineterminator=source.newline)
        self._errors_csv.writerow(ERRORS_HEADER)
        self._count = 0
        self.used = True

    def write(
        self, file: str, line: int | None, reasons: list[tuple[str, str]], record: str
    ) -> None:
        """Write one rejected record (its text as read) and every reason it was rejected for."""
        self._open()
        assert self._rows is not None
        self._rows.write(record)
        self._count += 1
        for column, reason in reasons:
            self._errors_csv.writerow(
                (file, "" if line is None else line, column, reason, self._count)
            )

    def _finish(self) -> None:
        """Close the open pair and put it in place without overwriting a different file."""
        if self._rows is None or self._errors is None or self._temp is None:
            return
        self._rows.close()
        self._errors.close()
        temp, errors_temp = self._temp, errors_path_for(self._temp)
        self._rows = self._errors = None
        wanted = numbered(self.first_path, self._number)
        target = wanted
        while target.exists() and target.read_bytes() != temp.read_bytes():
            self._number += 1
            target = numbered(self.first_path, self._number)
        if target != wanted:
            self.notes.append(
                f"{wanted} was left as it is (it differs from this run's rejects, perhaps"
                f" fixed by hand); rejected rows written to {target} instead"
            )
        os.replace(temp, target)
        os.replace(errors_temp, errors_path_for(target))
        self.path = target
        self.notes.append(
            f"rejected rows written to {target} (fix and import it by name);"
            f" why each was rejected: {errors_path_for(target)}"
        )

    def close(self) -> None:
        """Finish the reject files (see the module docstring)."""
        self._finish()
