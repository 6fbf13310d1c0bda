"""Bookkeeping moves to the ``sentinel_db`` schema, which Supabase's Data API never serves.

``import_runs`` and the version table leave ``public``; the schema and both tables are closed to
PUBLIC and every API role (no ``USAGE``, no privilege, RLS on). Alembic finds the version table
wherever it is because sentinel-db appends ``sentinel_db`` to the search path of every migration
(see ``sentinel_db.schema.migrations``), so moving it mid-run is safe.

The downgrade moves both back to the current schema (privileges stay revoked) and drops the
schema; that fails, changing nothing, while other objects still live in it.

Revision ID: 0008b
Revises: 0006b
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op
from sentinel_db.schema.access import protect_private_schema, protect_private_table

revision: str = "0008b"
down_revision: str | None = "0006b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

# Frozen copies of the names at the time of this revision.
_SCHEMA = "sentinel_db"
_TABLES = ("import_runs", "sentinel_db_alembic_version")


def _move(table: str, source: str, target: str) -> str:
    # Skipped when the table is not in ``source`` (for example a version table already moved).
    # No percent signs: offline SQL would show them doubled.
    qualified = f"quote_ident({source}) || '.' || quote_ident('{table}')"
    return (
        "DO $$\nBEGIN\n"
        f"  IF to_regclass({qualified}) IS NOT NULL THEN\n"
        f"    EXECUTE 'ALTER TABLE ' || {qualified} || ' SET SCHEMA ' || quote_ident({target});\n"
        "  END IF;\nEND $$"
    )


def upgrade() -> None:
    protect_private_schema(_SCHEMA)
    for table in _TABLES:
        op.execute(_move(table, "current_schema()", f"'{_SCHEMA}'"))
        protect_private_table(f"{_SCHEMA}.{table}")


def downgrade() -> None:
    for table in _TABLES:
        op.execute(_move(table, f"'{_SCHEMA}'", "current_schema()"))
    # Other branches keep objects there (search statistics, data versions): drop it only if empty.
    op.execute(
        "DO $$\nBEGIN\n"
        f"  IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f" WHERE n.nspname = '{_SCHEMA}') AND NOT EXISTS (SELECT 1 FROM pg_proc p"
        f" JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '{_SCHEMA}') THEN\n"
        f"    DROP SCHEMA {_SCHEMA};\n"
        "  END IF;\nEND $$"
    )
