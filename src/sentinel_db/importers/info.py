"""What a source holds, without importing: files, tables, sizes, estimated rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel_db.importers.files import FILE_NAMES, discover
from sentinel_db.importers.tables import TABLES

_SAMPLE = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """A recognised file and what would happen to it."""

    path: str
    table: str
    size: int
    estimated_rows: int


@dataclass
class SourceDescription:
    """The recognised names with their columns and checks, and what a source holds."""

    source: str
    exists: bool
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def formats(self) -> list[dict[str, Any]]:
        """Recognised file names, their table, columns and checks."""
        return [
            {
                "file": name,
                "table": table,
                "columns": list(TABLES[table].columns),
                "required": list(TABLES[table].required),
                "checks": TABLES[table].checks,
            }
            for name, table in FILE_NAMES.items()
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "source": self.source,
            "exists": self.exists,
            "formats": self.formats(),
            "files": [vars(f) for f in self.files],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


def estimate_rows(path: Path) -> int:
    """Rows in a CSV estimated from the first megabyte (records may span lines)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE)
    lines = sample.count(b"\n")
    if size <= len(sample):
        # Whole file read: count records properly.
        import csv
        import io

        text = sample.decode("utf-8", errors="replace")
        return max(0, sum(1 for row in csv.reader(io.StringIO(text, newline="")) if row) - 1)
    return max(0, round(size / (len(sample) / max(lines, 1))) - 1)


def describe_source(source: Path | str) -> SourceDescription:
    """Describe what importing ``source`` would do (a missing source is described, not an error)."""
    source = Path(source)
    description = SourceDescription(source=str(source), exists=source.exists())
    if not source.exists():
        return description
    found = discover(source)
    for path, table in found.files:
        try:
            rows = estimate_rows(path)
        except OSError:
            rows = 0
        description.files.append(SourceFile(str(path), table, path.stat().st_size, rows))
    description.skipped = [(str(p), reason) for p, reason in found.skipped]
    return description
