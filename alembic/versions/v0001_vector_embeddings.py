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

Revision ID: v0001
Revises:
Depends on: 0001, 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "v0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("vectors",)
depends_on: str | Sequence[str] | None = ("0001", "0002")
creates_tables: tuple[str, ...] = (
    "pci_dss_controls_embeddings",
    "aws_config_rules_guidance_embeddings",
)

# Frozen copies (library code may move on): (table, parent, key column, key type).
_TABLES = (
    ("pci_dss_controls_embeddings", "pci_dss_controls", "control_id", "varchar(20)"),
    (
        "aws_config_rules_guidance_embeddings",
        "aws_config_rules_guidance",
        "config_rule",
        "varchar(100)",
    ),
)
_AUTHENTICATED_POLICY = "sentinel_db_authenticated_read"
_ANON_POLICY = "sentinel_db_anon_read"


def _anon_read() -> bool:
    """RLS_ANON_READ at migrate time, read the way revision 0006 reads it."""
    config = op.get_context().config
    if config is not None and "rls_anon_read" in config.attributes:
        return bool(config.attributes["rls_anon_read"])
    from sentinel_db.config import get_settings
    from sentinel_db.errors import SentinelDBError

    try:
        return get_settings().rls_anon_read
    except SentinelDBError:
        return False


def _create_extension() -> None:
    if op.get_context().as_sql:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return
    bind = op.get_bind()
    from sentinel_db.embeddings import extension_available, missing_extension_message
    from sentinel_db.errors import MigrationError

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


def _policy(role: str, policy: str) -> str:
    creates = "\n".join(
        f"    CREATE POLICY {policy} ON {table} AS PERMISSIVE FOR SELECT TO {role} USING (true);"
        for table, *_ in _TABLES
    )
    return (
        "DO $$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN\n"
        f"{creates}\n"
        "  END IF;\nEND $$"
    )


def upgrade() -> None:
    _create_extension()
    for table, parent, key, key_type in _TABLES:
        op.execute(
            f"CREATE TABLE {table} (\n"
            f"  {key} {key_type} NOT NULL,\n"
            "  model varchar(200) NOT NULL,\n"
            "  dimensions integer NOT NULL,\n"
            "  embedding vector NOT NULL,\n"
            "  content_sha256 varchar(64) NOT NULL,\n"
            "  updated_at timestamptz NOT NULL DEFAULT now(),\n"
            f"  CONSTRAINT pk_{table} PRIMARY KEY ({key}, model),\n"
            f"  CONSTRAINT fk_{table}_{key}_{parent} FOREIGN KEY ({key})"
            f" REFERENCES {parent} ({key}) ON UPDATE CASCADE ON DELETE CASCADE,\n"
            f"  CONSTRAINT ck_{table}_dimensions CHECK (vector_dims(embedding) = dimensions)\n"
            ")"
        )
        op.execute(f"CREATE INDEX ix_{table}_model_dimensions ON {table} (model, dimensions)")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(_policy("authenticated", _AUTHENTICATED_POLICY))
    if _anon_read():
        op.execute(_policy("anon", _ANON_POLICY))


def downgrade() -> None:
    for table, *_ in reversed(_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table}")
