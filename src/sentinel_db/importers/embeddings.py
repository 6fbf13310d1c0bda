"""The database side of an embeddings file: checks on (key, model) and the upsert with hashes.

Same life cycle as :class:`~sentinel_db.importers.load.Stage` (staging table, issues, one
transaction), with the key being ``(key, model)``, a dimension check per model, and a content
hash of the row's current text stored beside each vector.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from sentinel_db.errors import MigrationError
from sentinel_db.importers.load import Counts, Stage
from sentinel_db.importers.report import PHASE_INSERT
from sentinel_db.importers.tables import TableSpec
from sentinel_db.records import embeddings
from sentinel_db.records.embeddings import (
    CONTENT_HASH_SQL,
    EMBEDDING_TABLES,
    TARGETS,
    EmbeddingTarget,
    index_statements,
    unindexed_dimensions_sql,
)
from sentinel_db.redact import library_logger

log = library_logger("sentinel_db.importers")


def make_stage(conn: psycopg.Connection[Any], spec: TableSpec, number: int) -> Stage:
    """The staging strategy for ``spec``'s table."""
    if spec.name in EMBEDDING_TABLES:
        return EmbeddingStage(conn, spec, number)
    return Stage(conn, spec, number)


def stale_vectors(conn: psycopg.Connection[Any], parent: str) -> int:
    """How many stored vectors of ``parent``'s rows no longer match their text (0 when the
    vectors schema is not installed)."""
    target = TARGETS.get(parent)
    if target is None:
        return 0
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (target.table,)).fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {e} e JOIN {p} p ON p.{k} = e.{k}"
            " WHERE e.content_sha256 <> " + CONTENT_HASH_SQL.format(alias="p")
        ).format(
            e=sql.Identifier(target.table),
            p=sql.Identifier(target.parent),
            k=sql.Identifier(target.key),
        )
    ).fetchone()
    return int(found[0]) if found else 0


class EmbeddingStage(Stage):
    """Staging for ``*_embeddings.csv``: rows keyed by ``(key, model)``."""

    def __init__(self, conn: psycopg.Connection[Any], spec: TableSpec, number: int) -> None:
        super().__init__(conn, spec, number)
        self.target_info: EmbeddingTarget = next(
            t for t in TARGETS.values() if t.table == spec.name
        )
        self.parent = sql.Identifier(self.target_info.parent)

    def create(self) -> None:
        """Create the staging tables, with the ``vector`` type spelled as the server knows it.

        Raises:
            MigrationError: the vectors schema is not installed.
        """
        row = self.conn.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = to_regclass(%s) AND a.attname = 'embedding'",
            (self.spec.name,),
        ).fetchone()
        if row is None:
            raise MigrationError(
                f"{self.spec.name} does not exist: the vectors schema is not installed",
                hint="run `sentinel-db migrate --with vectors` (needs the pgvector extension)",
            )
        vector_type = str(row[0])
        self.spec = dataclasses.replace(self.spec, types=("text", "text", vector_type))
        super().create()

    def check_duplicates(self, *, has_ids: bool) -> None:
        """A (key, model) repeated in the file: exact copies once, different vectors rejected."""
        self._move_issues(
            sql.SQL(
                "SELECT s.line, {kname}, CASE WHEN same THEN format("
                "'exact duplicate of line %s; imported once', f.line) ELSE format("
                "'duplicate {kraw} %L for model %L: differs from line %s (the first is kept)',"
                " s.{k}, s.model, f.line) END,"
                " CASE WHEN same THEN 'duplicate' ELSE 'error' END, to_jsonb(s) - 'line'"
                " FROM (SELECT {k} AS k, model, min(line) AS first FROM {t} GROUP BY {k}, model"
                " HAVING count(*) > 1) d JOIN {t} f ON f.line = d.first"
                " JOIN {t} s ON s.{k} = d.k AND s.model = d.model AND s.line <> d.first,"
                " LATERAL (SELECT s.embedding IS NOT DISTINCT FROM f.embedding AS same) c"
            ).format(
                kname=sql.Literal(self.spec.key),
                kraw=sql.SQL(self.spec.key),
                k=self.key,
                t=self.table,
            )
        )

    def check_references(self, *, strict: bool) -> None:
        """One dimension per model (that of its stored vectors, else of its first line), and
        keys that exist in the reference table (warning and skipped; rejected when strict)."""
        self._move_issues(
            sql.SQL(
                "SELECT s.line, 'embedding', format('%s dimensions, but model %L has %s (%s)',"
                " vector_dims(s.embedding), s.model, x.dims, x.source), 'error',"
                " to_jsonb(s) - 'line' FROM {t} s JOIN ("
                "  SELECT m.model, coalesce(st.dimensions, vector_dims(f.embedding)) AS dims,"
                "   CASE WHEN st.dimensions IS NULL THEN 'line ' || f.line"
                "   ELSE 'stored vectors' END AS source"
                "  FROM (SELECT model, min(line) AS line FROM {t} GROUP BY model) m"
                "  JOIN {t} f ON f.line = m.line"
                "  LEFT JOIN LATERAL (SELECT e.dimensions FROM {target} e"
                "   WHERE e.model = m.model LIMIT 1) st ON true"
                " ) x ON x.model = s.model WHERE vector_dims(s.embedding) <> x.dims"
            ).format(t=self.table, target=self.target)
        )
        severity = "error" if strict else "warning"
        missing = sql.SQL("NOT EXISTS (SELECT 1 FROM {p} p WHERE p.{k} = s.{k})").format(
            p=self.parent, k=self.key
        )
        self._move_issues(
            sql.SQL(
                "SELECT s.line, {kname}, format('{kraw} %L is not in {praw}; vector not stored',"
                " s.{k}), {sev}, to_jsonb(s) - 'line' FROM {t} s WHERE {missing}"
            ).format(
                kname=sql.Literal(self.spec.key),
                kraw=sql.SQL(self.spec.key),
                praw=sql.SQL(self.target_info.parent),
                k=self.key,
                sev=sql.Literal(severity),
                t=self.table,
                missing=missing,
            )
        )
        # A warned row cannot be stored either: its vector has no text to belong to.
        self.conn.execute(
            sql.SQL("DELETE FROM {t} s WHERE {missing}").format(t=self.table, missing=missing)
        )

    def upsert(self, *, on_phase: Callable[[str], None] | None = None) -> Counts:
        """Insert new (key, model) pairs; update those whose vector or text hash changed.

        One statement does both, so ``on_phase`` hears only that the insert begins.
        """
        if on_phase is not None:
            on_phase(PHASE_INSERT)
        staged = self._scalar(sql.SQL("SELECT count(*) FROM {}").format(self.table))
        row = self.conn.execute(
            sql.SQL(
                "WITH up AS (INSERT INTO {target} AS t ({k}, model, dimensions, embedding,"
                " content_sha256) SELECT s.{k}, s.model, vector_dims(s.embedding), s.embedding, "
                + CONTENT_HASH_SQL.format(alias="p")
                + " FROM {t} s JOIN {p} p ON p.{k} = s.{k}"
                " ON CONFLICT ({k}, model) DO UPDATE SET dimensions = excluded.dimensions,"
                " embedding = excluded.embedding, content_sha256 = excluded.content_sha256,"
                " updated_at = now() WHERE (t.embedding, t.content_sha256) IS DISTINCT FROM"
                " (excluded.embedding, excluded.content_sha256)"
                " RETURNING (t.xmax = 0) AS inserted)"
                " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)"
                " FROM up"
            ).format(target=self.target, k=self.key, t=self.table, p=self.parent)
        ).fetchone()
        inserted, updated = (int(row[0]), int(row[1])) if row else (0, 0)
        if inserted:
            self._build_indexes()
        return Counts(inserted=inserted, updated=updated, unchanged=staged - inserted - updated)

    def _build_indexes(self) -> None:
        """HNSW indexes for dimensions that now have enough vectors (built in bulk, once)."""
        table = self.spec.name
        found = self.conn.execute(
            unindexed_dimensions_sql(table), (embeddings.INDEX_MIN_ROWS,)
        ).fetchall()
        for (dims,) in found:
            try:
                with self.conn.transaction():
                    for statement in index_statements(table, int(dims)):
                        self.conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                log.warning(
                    "no HNSW index for %s-dimension vectors of %s: only the table owner can "
                    "build it (run `sentinel-db migrate --with vectors` as the owner)",
                    dims,
                    table,
                )
