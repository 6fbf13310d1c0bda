"""Embeddings beside the text: the ``Embedder`` protocol, vector parsing, and where vectors live.

Vectors are optional: the tables exist only after ``sentinel-db migrate --with vectors`` (the
``vectors`` Alembic branch), which needs PostgreSQL's ``vector`` extension (pgvector). Each
stored vector carries the SHA-256 of the text it was computed from (the row's ``chunk``); when
that text changes, the vector is stale until it is embedded again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Connection

VECTORS_BRANCH: Final = "vectors"
EXTENSION: Final = "vector"
MAX_DIMENSIONS: Final = 16000  # pgvector's limit for the vector type
MODEL_MAX: Final = 200
_FLOAT4_MAX: Final = 3.4028234663852886e38

# The HNSW index of a dimension N is a partial expression index on
# ``(embedding::vector(N)) WHERE dimensions = N``, built once N has INDEX_MIN_ROWS vectors; below
# that an exact scan is fast enough. HNSW indexes vector up to 2,000 dimensions and halfvec up to
# 4,000; larger vectors are always scanned exactly.
INDEX_MIN_ROWS: Final = 10_000
_HNSW_LIMITS: Final = ((2000, "vector"), (4000, "halfvec"))
_BUILD_MEMORY_KB: Final = 262_144  # 256 MB: a 100,000 x 384 graph builds in memory


def index_kind(dimensions: int) -> str | None:
    """The type HNSW indexes ``dimensions``-long vectors as (None: too long to index)."""
    for limit, kind in _HNSW_LIMITS:
        if dimensions <= limit:
            return kind
    return None


def index_name(table: str, dimensions: int) -> str:
    """The name of the HNSW index of one dimension of ``table``."""
    return f"ix_{table}_hnsw_{int(dimensions)}"


def index_statements(table: str, dimensions: int) -> list[str]:
    """SQL that builds the HNSW index for ``dimensions`` (empty when it cannot be indexed).

    Every part is a constant of this module or an integer: nothing from input is formatted in.
    """
    kind = index_kind(dimensions)
    if kind is None:
        return []
    n = int(dimensions)
    return [
        # The build is far faster when the graph fits in memory; raised for this transaction only.
        "SELECT set_config('maintenance_work_mem', greatest(setting::bigint,"
        f" {_BUILD_MEMORY_KB})::text || 'kB', true) FROM pg_settings"
        " WHERE name = 'maintenance_work_mem'",
        f"CREATE INDEX IF NOT EXISTS {index_name(table, n)} ON {table} USING hnsw"
        f" ((embedding::{kind}({n})) {kind}_cosine_ops) WHERE dimensions = {n}",
    ]


def unindexed_dimensions_sql(table: str) -> str:
    """SQL listing the dimensions of ``table`` with enough vectors and no HNSW index yet
    (parameter: the minimum number of vectors)."""
    return (
        f"SELECT dimensions FROM {table} GROUP BY dimensions HAVING count(*) >= %s"
        f" AND to_regclass('ix_{table}_hnsw_' || dimensions) IS NULL ORDER BY dimensions"
    )


@runtime_checkable
class Embedder(Protocol):
    """Turns text into a vector with one named model (sentinel-db ships none)."""

    @property
    def model(self) -> str:
        """The model name stored beside each vector (e.g. ``all-MiniLM-L6-v2``)."""
        ...

    def embed(self, text: str) -> Sequence[float]:
        """The embedding of ``text``."""
        ...

    def embed_batch(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """The embeddings of ``texts``, in order (one request where the provider allows)."""
        ...


def embed_all(embedder: Any, texts: Sequence[str]) -> list[Sequence[float]]:
    """``texts`` embedded by ``embedder``: in one batch when it can, else one by one.

    Embedders written before batch embedding existed (``model`` and ``embed`` only) still work.
    """
    batch = getattr(embedder, "embed_batch", None)
    if callable(batch):
        return list(batch(texts))
    return [embedder.embed(t) for t in texts]


def is_embedder(value: object) -> bool:
    """True for an object that embeds text (has ``model`` and ``embed``), not a vector."""
    return hasattr(value, "embed") and hasattr(value, "model")


@dataclass(frozen=True)
class EmbeddingTarget:
    """Where the vectors of one reference table are kept."""

    table: str
    parent: str
    key: str


CONTROL_EMBEDDINGS: Final = EmbeddingTarget(
    "pci_dss_controls_embeddings", "pci_dss_controls", "control_id"
)
RULE_EMBEDDINGS: Final = EmbeddingTarget(
    "aws_config_rules_guidance_embeddings", "aws_config_rules_guidance", "config_rule"
)
TARGETS: Final[dict[str, EmbeddingTarget]] = {
    t.parent: t for t in (CONTROL_EMBEDDINGS, RULE_EMBEDDINGS)
}
EMBEDDING_TABLES: Final[tuple[str, ...]] = tuple(t.table for t in TARGETS.values())

# The hash the stored content_sha256 is compared with: the parent row's chunk, as UTF-8.
CONTENT_HASH_SQL: Final = "encode(sha256(convert_to({alias}.chunk, 'UTF8')), 'hex')"


def check_vector(values: object) -> list[float]:
    """``values`` as a list of finite numbers that pgvector can store.

    Raises:
        ValueError: not a non-empty array of numbers, a number out of range, or too long.
    """
    if not isinstance(values, list | tuple):
        raise ValueError("must be a JSON array of numbers")
    if not values:
        raise ValueError("must not be an empty array")
    if len(values) > MAX_DIMENSIONS:
        raise ValueError(f"has {len(values)} dimensions; at most {MAX_DIMENSIONS} are supported")
    # The common case is checked by C-level builtins; the loop below only names the culprit.
    # A NaN or infinity makes the sum non-finite (finite float4 values cannot overflow it).
    if (
        set(map(type, values)) <= {float, int}
        and math.isfinite(sum(values))
        and min(values) >= -_FLOAT4_MAX
        and max(values) <= _FLOAT4_MAX
    ):
        return list(values)
    for position, value in enumerate(values, start=1):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"element {position} is not a number")
        if not math.isfinite(value) or abs(value) > _FLOAT4_MAX:
            raise ValueError(f"element {position} is not a finite 32-bit float")
    return [float(v) for v in values]


def vector_literal(values: Sequence[float]) -> str:
    """pgvector's text form of ``values``: ``[0.1,0.2,...]``."""
    return "[" + ",".join(map(repr, values)) + "]"


def parse_vector(value: object) -> list[float]:
    """A JSON array text (or a sequence) as a checked vector.

    Raises:
        ValueError: not JSON (NaN and Infinity are not), or not a valid vector.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_not_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    return check_vector(value)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def vectors_installed(conn: Connection) -> bool:
    """True when the vectors branch's tables exist in this database."""
    from sqlalchemy import text

    found = conn.execute(
        text("SELECT to_regclass(:t) IS NOT NULL"), {"t": CONTROL_EMBEDDINGS.table}
    ).scalar_one()
    return bool(found)


def extension_available(conn: Connection) -> bool:
    """True when the server can create (or already has) the ``vector`` extension."""
    from sqlalchemy import text

    found = conn.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = :n"), {"n": EXTENSION}
    ).first()
    return found is not None


def missing_extension_message(conn: Connection) -> tuple[str, str]:
    """The refusal, and the hint naming how to get pgvector for this server's version."""
    from sqlalchemy import text

    major = int(conn.execute(text("SELECT current_setting('server_version_num')")).scalar_one())
    major //= 10000
    return (
        f"the vectors schema needs the PostgreSQL extension {EXTENSION!r} (pgvector), "
        "which this server does not have; nothing was changed",
        f"install pgvector on the server (Debian/Ubuntu: apt-get install postgresql-{major}-pgvector; "
        "https://github.com/pgvector/pgvector), use Supabase (it ships pgvector) or the embedded "
        "server, then run `sentinel-db migrate --with vectors` again",
    )


# What a row's vector is computed from. "context" puts the row's heading (a control's
# requirement, a rule's name in words) before its text, "chunk" is the text alone. Measured with
# all-MiniLM-L6-v2 on the judged questions (bench/search_quality.py), each table has its own
# default. Controls: the text alone ranks better (vectors alone MRR@10 0.765 against 0.710):
# the requirement heading is shared by every control under it, so siblings start to look alike.
# Rules: the name in words ranks better (vectors alone MRR@10 0.943 against 0.868; hit@1 0.920
# against 0.800): a rule's name is its own title ("s3 bucket public read prohibited"), said in
# the words people ask in. The stored content hash covers the chunk alone either way: a row's key
# never changes, so the hash still says when its vector's text changed.
EmbedTextVariant = Literal["chunk", "context"]
TEXT_VARIANTS: Final[dict[str, EmbedTextVariant]] = {
    CONTROL_EMBEDDINGS.parent: "chunk",
    RULE_EMBEDDINGS.parent: "context",
}


def embedding_text(
    parent: str, row: Mapping[str, Any], *, variant: EmbedTextVariant | None = None
) -> str:
    """The text embedded for one row of ``parent`` (a mapping with the table's columns).

    ``variant`` defaults to the table's own (:data:`TEXT_VARIANTS`). A rule's name is read from
    ``config_rule``, or ``key`` when the row was selected under that name.
    """
    chunk = str(row.get("chunk") or "")
    if (variant or TEXT_VARIANTS.get(parent, "chunk")) == "chunk":
        return chunk
    if parent == CONTROL_EMBEDDINGS.parent:
        heading = str(row.get("requirement") or "").strip()
    else:
        name = row.get("config_rule") or row.get("key") or ""
        heading = str(name).replace("-", " ").strip()
    return f"{heading}: {chunk}" if heading else chunk
