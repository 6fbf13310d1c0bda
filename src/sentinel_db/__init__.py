"""sentinel-db: PCI DSS controls, AWS Config rule guidance and their mappings in PostgreSQL.

Importing this package has no side effects and needs no environment variables. The public
names are loaded on first use (PEP 562), so ``import sentinel_db`` and the CLI's ``--help``
stay quick; ``from sentinel_db import Database`` works as usual.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel_db.config import Settings, get_settings, load_settings, mask_url
    from sentinel_db.errors import (
        ConfigError,
        ConnectionFailedError,
        DataValidationError,
        DuplicateError,
        ImportValidationError,
        MigrationError,
        NotFoundError,
        SchemaDriftError,
        SentinelDBError,
        UsageError,
    )
    from sentinel_db.records.embeddings import Embedder
    from sentinel_db.records.rows import AwsConfigRule, PciAwsConfigMapping, PciControl
    from sentinel_db.repositories import (
        AwsConfigRuleRepository,
        PciAwsConfigMappingRepository,
        PciControlRepository,
        Repository,
    )
    from sentinel_db.retrieval import Retrieval, RetrievedControl, retrieve
    from sentinel_db.runtime.db import Database

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "Settings": "config",
    "get_settings": "config",
    "load_settings": "config",
    "mask_url": "config",
    "Database": "runtime.db",
    "Embedder": "records.embeddings",
    "ConfigError": "errors",
    "ConnectionFailedError": "errors",
    "DataValidationError": "errors",
    "DuplicateError": "errors",
    "ImportValidationError": "errors",
    "MigrationError": "errors",
    "NotFoundError": "errors",
    "SchemaDriftError": "errors",
    "SentinelDBError": "errors",
    "UsageError": "errors",
    "AwsConfigRule": "records.rows",
    "PciAwsConfigMapping": "records.rows",
    "PciControl": "records.rows",
    "AwsConfigRuleRepository": "repositories",
    "PciAwsConfigMappingRepository": "repositories",
    "PciControlRepository": "repositories",
    "Repository": "repositories",
    "Retrieval": "retrieval",
    "RetrievedControl": "retrieval",
    "retrieve": "retrieval",
}


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sentinel-db")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _package_version()
    elif name in _EXPORTS:
        value = getattr(import_module(f"sentinel_db.{_EXPORTS[name]}"), name)
    else:
        raise AttributeError(f"module 'sentinel_db' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, "__version__"])


__version__: str

__all__ = [
    "AwsConfigRule",
    "AwsConfigRuleRepository",
    "ConfigError",
    "ConnectionFailedError",
    "DataValidationError",
    "Database",
    "DuplicateError",
    "Embedder",
    "ImportValidationError",
    "MigrationError",
    "NotFoundError",
    "PciAwsConfigMapping",
    "PciAwsConfigMappingRepository",
    "PciControl",
    "PciControlRepository",
    "Repository",
    "Retrieval",
    "RetrievedControl",
    "SchemaDriftError",
    "SentinelDBError",
    "Settings",
    "UsageError",
    "__version__",
    "get_settings",
    "load_settings",
    "mask_url",
    "retrieve",
]
