"""Export reference tables to files in exactly the format the importer reads.

Rows stream from the database in keyset batches to a temporary file that is renamed into
place when complete, so memory stays flat and a failed export leaves no partial file.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from sentinel_db.repositories.base import DEFAULT_BATCH_SIZE
from sentinel_db.repositories.tables import repository_for
from sentinel_db.runtime.db import Database

# File stems the importer recognises (the mapping file's name differs from its table's).
FILE_STEMS: dict[str, str] = {
    "pci_dss_controls": "pci_dss_controls",
    "aws_config_rules_guidance": "aws_config_rules_guidance",
    "pci_aws_config_rule_mappings": "pci_aws_config_rule_mapping",
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "pci_dss_controls": ("id", "control_id", "requirement", "chunk", "metadata"),
    "aws_config_rules_guidance": ("id", "config_rule", "chunk", "metadata"),
    "pci_aws_config_rule_mappings": ("id", "control_id", "config_rules"),
}
_JSON_COLUMNS = {"metadata", "config_rules"}


class ExportFormat(StrEnum):
    """File formats of ``export``."""

    csv = "csv"
    json = "json"


@dataclass(frozen=True)
class ExportResult:
    """One written file."""

    table: str
    path: Path
    rows: int


def compact_json(value: Any) -> str:
    """JSON text without optional whitespace (how JSON columns are written to CSV)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name in _JSON_COLUMNS:
        return compact_json(value)
    return str(value)


def _write_csv(handle: TextIO, table: str, rows: Iterator[dict[str, Any]]) -> int:
    columns = COLUMNS[table]
    # CRLF: Python 3.11's writer quotes only fields holding a line-terminator character, so with
    # "\n" a lone "\r" inside a value would go out unquoted and split the record when read back.
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_cell(c, row[c]) for c in columns])
        count += 1
    return count


def _write_json(handle: TextIO, table: str, rows: Iterator[dict[str, Any]]) -> int:
    columns = COLUMNS[table]
    handle.write("[")
    count = 0
    for row in rows:
        record = {c: str(row[c]) if c == "id" else row[c] for c in columns}
        handle.write(("," if count else "") + "\n" + compact_json(record))
        count += 1
    handle.write("\n]\n")
    return count


def export_tables(
    db: Database,
    tables: tuple[str, ...],
    out_dir: Path,
    *,
    fmt: ExportFormat = ExportFormat.csv,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[ExportResult]:
    """Write each of ``tables`` to ``out_dir/<import file name>.<fmt>``; returns what was written.

    Reads go to the read replica when one is configured, in one read-only transaction so all
    files come from the same snapshot.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _write_csv if fmt is ExportFormat.csv else _write_json
    results: list[ExportResult] = []
    with db.unit_of_work(read_only=True) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for table in tables:
            path = out_dir / f"{FILE_STEMS[table]}.{fmt.value}"
            rows = repository_for(session, table).iter_rows(batch_size=batch_size)
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    count = writer(handle, table, rows)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            results.append(ExportResult(table=table, path=path, rows=count))
    return results
