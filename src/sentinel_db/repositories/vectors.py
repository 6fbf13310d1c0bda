"""Vector queries: nearest neighbours, "rows like this one", upserts, and counts per model.

Every statement is written by hand: the ``vector`` type needs casts the ORM does not know, and
the HNSW indexes are partial expression indexes that a query matches only when it spells the
same expression, ``embedding::vector(N)`` with ``dimensions = N``, both as literals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db.errors import (
    DataValidationError,
    MigrationError,
    NotFoundError,
    UsageError,
    translate,
)
from sentinel_db.records.embeddings import (
    CONTENT_HASH_SQL,
    TARGETS,
    EmbeddingTarget,
    check_vector,
    index_kind,
    vector_literal,
)
from sentinel_db.redact import library_logger
from sentinel_db.schema.vector_indexes import build_missing_indexes

# Candidates the HNSW search keeps while walking the graph (pgvector's default is 40); raised to
# the requested limit when that is larger. 100 gives recall@10 above 0.95 in bench/vector_bench.py.
EF_SEARCH: Final = 100
MAX_LIMIT: Final = 1000
_UPSERT_BATCH: Final = 1000
_UNDEFINED_TABLE: Final = "42P01"
_NOT_OWNER: Final = "42501"
log = library_logger("sentinel_db.vectors")


def _run(session: Session, action: str, statement: Any, params: Any = None) -> Any:
    try:
        return session.execute(statement, params)
    except SQLAlchemyError as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) == _UNDEFINED_TABLE:
            raise MigrationError(
                f"{action}: the vectors schema is not installed in this database",
                hint="run `sentinel-db migrate --with vectors` (needs the pgvector extension)",
            ) from exc
        raise translate(exc, action=action) from exc


def _distance(dimensions: int) -> tuple[str, str]:
    """The column expression and query cast for ``dimensions``: the expression of its HNSW
    index when the dimension can have one (an exact scan until the index exists)."""
    kind = index_kind(dimensions)
    if kind is None:
        return "e.embedding", "vector"
    return f"(e.embedding::{kind}({int(dimensions)}))", f"{kind}({int(dimensions)})"


def _query_vector(vector: Sequence[float]) -> tuple[list[float], str, str]:
    """A query vector checked, with the column expression and cast it is compared through."""
    try:
        values = check_vector(list(vector))
    except ValueError as exc:
        raise DataValidationError(f"query vector: {exc}") from None
    column, cast = _distance(len(values))
    return values, column, cast


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert of embeddings did."""

    inserted: int
    updated: int
    unchanged: int


class VectorStore:
    """The embeddings of one reference table (``pci_dss_controls`` or ``aws_config_rules_guidance``)."""

    def __init__(self, session: Session, parent: str) -> None:
        self.session = session
        self.target: EmbeddingTarget = TARGETS[parent]

    def _sql(self, template: str) -> Any:
        t = self.target
        return text(
            template.format(
                table=t.table,
                parent=t.parent,
                key=t.key,
                hash=CONTENT_HASH_SQL.format(alias="p"),
            )
        )

    def model_for(self, dimensions: int, model: str | None) -> str:
        """``model``, or the only model stored with ``dimensions`` when it is None.

        Raises:
            UsageError: no model, or several, store vectors of that dimension.
        """
        if model is not None:
            return model
        low, high = _run(
            self.session,
            "find the embedding model",
            self._sql("SELECT min(model), max(model) FROM {table} WHERE dimensions = :d"),
            {"d": dimensions},
        ).one()
        if low is None:
            raise UsageError(f"no stored {self.target.parent} vectors have {dimensions} dimensions")
        if low != high:
            raise UsageError(
                f"several models store {dimensions}-dimension vectors ({low}, {high}, ...); "
                "name one with model="
            )
        return str(low)

    def stored_dimensions(self, model: str) -> int | None:
        """The dimension of ``model``'s stored vectors (None: none stored, or no vectors schema)."""
        installed = _run(
            self.session, "read vectors", text("SELECT to_regclass(:t)"), {"t": self.target.table}
        ).scalar_one()
        if installed is None:
            return None
        found = _run(
            self.session,
            "read vectors",
            self._sql("SELECT dimensions FROM {table} WHERE model = :m LIMIT 1"),
            {"m": model},
        ).scalar_one_or_none()
        return None if found is None else int(found)

    def nearest(
        self, vector: Sequence[float], *, model: str, limit: int, exclude: str | None = None
    ) -> list[tuple[str, float]]:
        """Keys of the ``limit`` stored vectors of ``model`` closest to ``vector`` (cosine),
        nearest first, each with its cosine similarity."""
        if limit < 1 or limit > MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
        values, column, cast = _query_vector(vector)
        # Transaction-local: a wider candidate list for recall, and iterative scans so that
        # filtering on the model after the index scan still yields `limit` rows in order.
        _run(
            self.session,
            "search vectors",
            text(
                "SELECT set_config('hnsw.ef_search', :ef, true),"
                " set_config('hnsw.iterative_scan', 'strict_order', true)"
            ),
            {"ef": str(max(EF_SEARCH, limit + 1))},
        )
        rows = _run(
            self.session,
            "search vectors",
            self._sql(
                f"SELECT e.{{key}}, {column} <=> CAST(:q AS {cast}) AS distance FROM {{table}} e"
                f" WHERE e.dimensions = {len(values)} AND e.model = :model"
                # No foreign key: a vector whose row has gone is skipped here.
                " AND EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = e.{key})"
                " ORDER BY distance LIMIT :n"
            ),
            {"q": vector_literal(values), "model": model, "n": limit + (exclude is not None)},
        ).all()
        found = [(str(k), 1.0 - float(d)) for k, d in rows if k != exclude]
        return found[:limit]

    def similarities(
        self, vector: Sequence[float], keys: Sequence[str], *, model: str
    ) -> dict[str, float]:
        """The cosine similarity of ``vector`` to the stored vector of each of ``keys`` that has
        one of ``model`` (one primary-key look-up; keys without a vector are left out)."""
        if not keys:
            return {}
        values, column, cast = _query_vector(vector)
        rows = _run(
            self.session,
            "search vectors",
            self._sql(
                f"SELECT e.{{key}}, {column} <=> CAST(:q AS {cast}) AS distance FROM {{table}} e"
                f" WHERE e.{{key}} = ANY(CAST(:keys AS text[])) AND e.model = :model"
                f" AND e.dimensions = {len(values)}"
            ),
            {"q": vector_literal(values), "keys": list(keys), "model": model},
        ).all()
        return {str(k): 1.0 - float(d) for k, d in rows}

    def vector_of(self, key: str, model: str | None) -> tuple[str, list[float]]:
        """The model name and stored vector of ``key``.

        Raises:
            NotFoundError: no vector is stored for ``key`` (with ``model``).
            UsageError: ``model`` is None and ``key`` has vectors of several models.
        """
        rows = _run(
            self.session,
            "read vectors",
            self._sql(
                "SELECT model, embedding::text FROM {table} WHERE {key} = :k"
                + ("" if model is None else " AND model = :m")
                + " ORDER BY model"
            ),
            {"k": key, "m": model},
        ).all()
        if not rows:
            which = f" by model {model!r}" if model else ""
            raise NotFoundError(f"no vector is stored for {self.target.key} {key!r}{which}")
        if len(rows) > 1:
            names = ", ".join(str(r[0]) for r in rows)
            raise UsageError(f"{key!r} has vectors of several models ({names}); name one")
        name, literal = rows[0]
        return str(name), [float(v) for v in str(literal).strip("[]").split(",")]

    def upsert(
        self,
        vectors: Mapping[str, Sequence[float]] | Iterable[tuple[str, Sequence[float]]],
        *,
        model: str,
    ) -> UpsertCounts:
        """Store vectors of ``model`` by key, hashing each row's current text; flushes only.

        Raises:
            DataValidationError: a vector is malformed, or its dimension differs from the
                model's other vectors.
            NotFoundError: a key has no row in the reference table.
        """
        if not model.strip() or len(model) > 200:
            raise DataValidationError("model must be a non-empty name of at most 200 characters")
        pairs = list(vectors.items() if isinstance(vectors, Mapping) else vectors)
        checked: list[tuple[str, list[float]]] = []
        for key, values in pairs:
            try:
                checked.append((key, check_vector(list(values))))
            except ValueError as exc:
                raise DataValidationError(f"vector of {key!r}: {exc}") from None
        dims = {len(v) for _, v in checked}
        stored = _run(
            self.session,
            "read vectors",
            self._sql("SELECT dimensions FROM {table} WHERE model = :m LIMIT 1"),
            {"m": model},
        ).scalar_one_or_none()
        if stored is not None:
            dims.add(int(stored))
        if len(dims) > 1:
            raise DataValidationError(
                f"model {model!r} vectors must all have one dimension; found {sorted(dims)}"
            )
        keys = [k for k, _ in checked]
        missing = (
            _run(
                self.session,
                "check keys",
                self._sql(
                    "SELECT k FROM unnest(CAST(:keys AS text[])) AS u(k)"
                    " WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = u.k)"
                ),
                {"keys": keys},
            )
            .scalars()
            .all()
        )
        if missing:
            raise NotFoundError(
                f"no {self.target.parent} row for {', '.join(map(repr, missing[:10]))}"
            )
        inserted = updated = 0
        for start in range(0, len(checked), _UPSERT_BATCH):
            batch = checked[start : start + _UPSERT_BATCH]
            flags = (
                _run(
                    self.session,
                    "store vectors",
                    self._sql(_UPSERT),
                    {
                        "keys": [k for k, _ in batch],
                        "vecs": [vector_literal(v) for _, v in batch],
                        "model": model,
                    },
                )
                .scalars()
                .all()
            )
            inserted += sum(1 for f in flags if f)
            updated += sum(1 for f in flags if not f)
        if inserted:
            build_missing_indexes(self.session, self.target.parent)
        return UpsertCounts(inserted, updated, len(checked) - inserted - updated)


# xmax = 0 marks a freshly inserted row; an updated one carries the updating transaction's id.
_UPSERT = (
    "INSERT INTO {table} AS t ({key}, model, dimensions, embedding, content_sha256)"
    " SELECT u.k, :model, vector_dims(CAST(u.v AS vector)), CAST(u.v AS vector), {hash}"
    " FROM unnest(CAST(:keys AS text[]), CAST(:vecs AS text[])) AS u(k, v)"
    " JOIN {parent} p ON p.{key} = u.k"
    " ON CONFLICT ({key}, model) DO UPDATE SET dimensions = excluded.dimensions,"
    " embedding = excluded.embedding, content_sha256 = excluded.content_sha256, updated_at = now()"
    " WHERE (t.embedding, t.content_sha256) IS DISTINCT FROM"
    " (excluded.embedding, excluded.content_sha256)"
    " RETURNING (t.xmax = 0)"
)
