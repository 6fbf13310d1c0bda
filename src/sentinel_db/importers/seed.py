"""The small sample dataset bundled with the package, loaded through the normal import path."""

from __future__ import annotations

from pathlib import Path

from sentinel_db.errors import ImportValidationError
from sentinel_db.importers import ImportOptions, ImportReport, ProgressCallback, import_directory
from sentinel_db.runtime.db import Database

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"


def seed_sample_data(db: Database, *, progress: ProgressCallback | None = None) -> ImportReport:
    """Import the bundled sample data; running it again changes nothing.

    Raises:
        ImportValidationError: a sample file was rejected (a packaging bug).
    """
    report = import_directory(db, SAMPLE_DATA, options=ImportOptions(), progress=progress)
    failed = [f for f in report.files if f.exit_code]
    if failed:
        raise ImportValidationError(
            f"sample data {failed[0].path}: {failed[0].error or 'rows were rejected'}"
        )
    return report
