"""Repositories: the only place that builds queries. They flush; callers commit."""

from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.controls import PciControlRepository
from sentinel_db.repositories.mappings import PciAwsConfigMappingRepository
from sentinel_db.repositories.rules import AwsConfigRuleRepository
from sentinel_db.repositories.search import HIGHLIGHT_START, HIGHLIGHT_STOP

__all__ = [
    "HIGHLIGHT_START",
    "HIGHLIGHT_STOP",
    "AwsConfigRuleRepository",
    "PciAwsConfigMappingRepository",
    "PciControlRepository",
    "Repository",
]
