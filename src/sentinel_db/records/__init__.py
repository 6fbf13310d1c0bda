"""The data's shapes: ORM tables, the records services read, and the rows the importer validates.

- :mod:`.models`: the SQLAlchemy tables (what the migrations must produce).
- :mod:`.rows`: pydantic records returned by repositories (``PciControl``, ``SearchHit``, ...).
- :mod:`.validation`: per-row validation of imported CSV rows.
- :mod:`.embeddings`: vector facts (tables, dimensions, index shapes) and the ``Embedder`` protocol.

Nothing here connects to a database or imports a layer above it.
"""

from sentinel_db.records.rows import (
    AwsConfigRule,
    Coverage,
    FoundBy,
    MappedRule,
    PciAwsConfigMapping,
    PciControl,
    Record,
    SearchHit,
)

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
