"""Repositories: the only place that builds queries. They flush; callers commit.

The names below load on first use, so that a module of this package that needs no ORM (the
search, the reads in :mod:`.reads`) is imported without loading SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel_db.repositories.base import Repository
    from sentinel_db.repositories.controls import PciControlRepository
    from sentinel_db.repositories.mappings import PciAwsConfigMappingRepository
    from sentinel_db.repositories.rules import AwsConfigRuleRepository
    from sentinel_db.repositories.search import HIGHLIGHT_START, HIGHLIGHT_STOP

_WHERE = {
    "HIGHLIGHT_START": "search",
    "HIGHLIGHT_STOP": "search",
    "AwsConfigRuleRepository": "rules",
    "PciAwsConfigMappingRepository": "mappings",
    "PciControlRepository": "controls",
    "Repository": "base",
}

__all__ = [
    "HIGHLIGHT_START",
    "HIGHLIGHT_STOP",
    "AwsConfigRuleRepository",
    "PciAwsConfigMappingRepository",
    "PciControlRepository",
    "Repository",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
