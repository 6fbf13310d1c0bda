"""The data's shapes: ORM tables, the records services read, and the rows the importer validates.

- :mod:`.models`: the SQLAlchemy tables (what the migrations must produce).
- :mod:`.rows`: pydantic records returned by repositories (``PciControl``, ``SearchHit``, ...).
- :mod:`.validation`: per-row validation of imported CSV rows.
- :mod:`.embeddings`: vector facts (tables, dimensions, index shapes) and the ``Embedder`` protocol.

Nothing here connects to a database or imports a layer above it.
"""

from importlib import import_module
from typing import Any

__all__ = [
    "AwsConfigRule",
    "Coverage",
    "FoundBy",
    "MappedRule",
    "PciAwsConfigMapping",
    "PciControl",
    "Record",
    "SearchHit",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `stats` reads table names from this package and needs no records.
    if name in __all__:
        return getattr(import_module("sentinel_db.records.rows"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
