"""Bulk CSV import: streaming validation, COPY into staging, idempotent upsert, reports.

``import_file`` and ``import_directory`` return report objects; progress is reported through a
callback and nothing here prints.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel_db.importers.files import FILE_NAMES, discover
    from sentinel_db.importers.history import RunRecord, list_runs
    from sentinel_db.importers.info import SourceDescription, describe_source
    from sentinel_db.importers.job import ImportOptions
    from sentinel_db.importers.report import (
        FileReport,
        ImportReport,
        Problem,
        ProgressCallback,
        ProgressEvent,
    )
    from sentinel_db.importers.run import import_directory, import_file
    from sentinel_db.importers.tables import TABLES, table_spec

# Public name -> its module; loaded on first use, so `sentinel_db.importers.history` alone (as
# `stats` needs it) does not load the whole importer.
_EXPORTS: dict[str, str] = {
    "FILE_NAMES": "files",
    "discover": "files",
    "RunRecord": "history",
    "list_runs": "history",
    "SourceDescription": "info",
    "describe_source": "info",
    "FileReport": "report",
    "ImportReport": "report",
    "Problem": "report",
    "ProgressCallback": "report",
    "ProgressEvent": "report",
    "ImportOptions": "job",
    "import_directory": "run",
    "import_file": "run",
    "TABLES": "tables",
    "table_spec": "tables",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sentinel_db.importers' has no attribute {name!r}")
    value = getattr(import_module(f"sentinel_db.importers.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


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
