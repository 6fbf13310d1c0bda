"""Which line of a file the database refused during COPY, when rows were not validated first.

With ``--no-validate`` a value PostgreSQL cannot store (invalid JSON, for one) fails the COPY.
PostgreSQL names the failing COPY row by its position in the stream, not the file's line; the
file is read again, with the same per-row decisions, to find that row's line and fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from sentinel_db.importers.reader import CsvStream, FileProblem
from sentinel_db.importers.tables import TableSpec
from sentinel_db.importers.validate import RowChecker
from sentinel_db.records.validation import json_problem

# PostgreSQL's CONTEXT line for a COPY failure: "COPY <table>, line <n>, column <name>: ...".
_COPY_CONTEXT = re.compile(r"COPY \S+, line (\d+)(?:, column (\w+))?")


@dataclass(frozen=True)
class RefusedRow:
    """The file's row the database refused: the problem (with line and column) and its fields."""

    problem: FileProblem
    fields: list[str]


def locate_refused_row(
    exc: psycopg.Error,
    path: Path,
    spec: TableSpec,
    *,
    encoding: str | None,
    max_field_size: int,
) -> RefusedRow | None:
    """The row behind a COPY data error, or ``None`` when the error does not say which."""
    diag = exc.diag
    match = _COPY_CONTEXT.search(diag.context or "")
    if match is None:
        return None
    position, column = int(match.group(1)), match.group(2) or ""
    written = 0
    with CsvStream(path, encoding=encoding, max_field_size=max_field_size) as stream:
        header = stream.read_header(spec.required, spec.columns)
        checker = RowChecker(spec, header, validate=False)
        for line, fields in stream.records():
            if isinstance(checker.check(line, fields), list):
                continue  # rejected before COPY, so not counted by the server either
            written += 1
            if written < position:
                continue
            index = header.index.get(column)
            value = fields[index] if index is not None else ""
            kinds = dict(zip(spec.columns, spec.types, strict=True))
            reason = json_problem(value) if kinds.get(column) == "jsonb" else None
            reason = reason or f"refused by the database: {diag.message_primary or 'invalid'}"
            return RefusedRow(FileProblem(reason, line=line, column=column), fields)
    return None
