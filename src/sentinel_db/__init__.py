"""sentinel-db: PCI DSS controls, AWS Config rule guidance and their mappings in PostgreSQL.

Importing this package has no side effects and needs no environment variables.
"""

from importlib.metadata import PackageNotFoundError, version

from sentinel_db.config import Settings, get_settings, load_settings, mask_url
from sentinel_db.db import Database
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
from sentinel_db.records import AwsConfigRule, PciAwsConfigMapping, PciControl
from sentinel_db.repositories import (
    AwsConfigRuleRepository,
    PciAwsConfigMappingRepository,
    PciControlRepository,
    Repository,
)
from sentinel_db.retrieval import Retrieval, RetrievedControl, retrieve

try:
    __version__ = version("sentinel-db")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AwsConfigRule",
    "AwsConfigRuleRepository",
    "ConfigError",
    "ConnectionFailedError",
    "DataValidationError",
    "Database",
    "DuplicateError",
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
