"""Bulk CSV import: streaming validation, COPY into staging, idempotent upsert, reports.

``import_file`` and ``import_directory`` return report objects; progress is reported through a
callback and nothing here prints.
"""

from sentinel_db.importers.files import FILE_NAMES, discover
from sentinel_db.importers.history import RunRecord, list_runs
from sentinel_db.importers.info import SourceDescription, describe_source
from sentinel_db.importers.report import (
    FileReport,
    ImportReport,
    Problem,
    ProgressCallback,
    ProgressEvent,
)
from sentinel_db.importers.run import ImportOptions, import_directory, import_file
from sentinel_db.importers.tables import TABLES, table_spec

__all__ = [
    "FILE_NAMES",
    "TABLES",
    "FileReport",
    "ImportOptions",
    "ImportReport",
    "Problem",
    "ProgressCallback",
    "ProgressEvent",
    "RunRecord",
    "SourceDescription",
    "describe_source",
    "discover",
    "import_directory",
    "import_file",
    "list_runs",
    "table_spec",
]
