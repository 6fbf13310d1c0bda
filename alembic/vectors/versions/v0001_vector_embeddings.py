"""Embeddings of controls and rules (pgvector), one table each, any model and dimension.

An optional branch (label ``vectors``): plain ``migrate`` never applies it, ``migrate --with
vectors`` (or ``alembic upgrade vectors@head``) does. It needs the ``vector`` extension and
refuses clearly, changing nothing, on a server without it. The extension goes into the
``extensions`` schema when that exists (Supabase), else the default schema.

The ``embedding`` column has no fixed dimension, so one table holds every model. HNSW needs a
fixed dimension, so each dimension N gets a partial expression index on
``(embedding::vector(N)) WHERE dimensions = N``, built by sentinel-db (the importer,
``upsert_embeddings``, ``migrate --with vectors``) once N has enough vectors: an index built in
bulk is far faster than one grown row by row, and small sets are served well by an exact scan.
Downgrading drops the two tables and leaves the extension (other objects may use it).

The branch stands on its own: no foreign key into the reference tables and no Alembic
dependency on their branches, so rolling a table back never touches vectors and removing
vectors never touches a table. Keys are checked when vectors are imported or upserted, and
``stats`` counts vectors whose row has gone. RLS, policies and privileges are the reference
tables' own (``sentinel_db.schema.access.protect_api_table``).

Revision ID: v0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from sentinel_db.schema.access import protect_api_table

revision: str = "v0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("vectors",)
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = (
    "pci_dss_controls_embeddings",
    "aws_config_rules_guidance_embeddings",
)

# Frozen copies (library code may move on): (table, key column, key type).
_TABLES = (
    ("pci_dss_controls_embeddings", "control_id", "varchar(20)"),
    ("aws_config_rules_guidance_embeddings", "config_rule", "varchar(100)"),
)


def _create_extension() -> None:
    if op.get_context().as_sql:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return
    bind = op.get_bind()
    from sentinel_db.errors import MigrationError
    from sentinel_db.records.embeddings import extension_available, missing_extension_message

    if not extension_available(bind):
        message, hint = missing_extension_message(bind)
        raise MigrationError(message, hint=hint)
    has_schema = bind.execute(
        sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'extensions'")
    ).first()
    op.execute(
        "CREATE EXTENSION IF NOT EXISTS vector" + (" WITH SCHEMA extensions" if has_schema else "")
    )
    # The type and operator classes must resolve here even when the extension lives in a
    # schema outside the search path; appended for this transaction only.
    bind.execute(
        sa.text(
            "SELECT set_config('search_path', current_setting('search_path') || ', '"
            " || quote_ident(n.nspname), true) FROM pg_extension e"
            " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
        )
    )


def upgrade() -> None:
    _create_extension()
    for table, key, key_type in _TABLES:
        op.execute(
            f"CREATE TABLE {table} (\n"
            f"  {key} {key_type} NOT NULL,\n"
            "  model varchar(200) NOT NULL,\n"
            "  dimensions integer NOT NULL,\n"
            "  embedding vector NOT NULL,\n"
            "  content_sha256 varchar(64) NOT NULL,\n"
            "  updated_at timestamptz NOT NULL DEFAULT now(),\n"
            f"  CONSTRAINT pk_{table} PRIMARY KEY ({key}, model),\n"
            f"  CONSTRAINT ck_{table}_dimensions CHECK (vector_dims(embedding) = dimensions)\n"
            ")"
        )
        op.execute(f"CREATE INDEX ix_{table}_model_dimensions ON {table} (model, dimensions)")
        protect_api_table(table)


def downgrade() -> None:
    for table, *_ in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
