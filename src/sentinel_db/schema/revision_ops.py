"""Steps the per-table revisions share, each taking the table (and what else it needs) by name.

Revisions keep their own frozen copies of names and expressions and pass them in, so a later
change to the models never changes what an old revision does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from sentinel_db.schema.access import ANON_POLICY, AUTHENTICATED_POLICY, anon_read_at_migrate_time


def add_search_vector(table: str, expression: str) -> None:
    """A generated ``search_vector`` tsvector column from ``expression``, with a GIN index."""
    op.add_column(
        table,
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(expression, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(f"ix_{table}_search_vector", table, ["search_vector"], postgresql_using="gin")


def drop_search_vector(table: str) -> None:
    """Undo :func:`add_search_vector`."""
    op.drop_index(f"ix_{table}_search_vector", table_name=table)
    op.drop_column(table, "search_vector")


def _policy_block(table: str, role: str, policy: str) -> str:
    return (
        "DO $$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN\n"
        f"    CREATE POLICY {policy} ON {table} AS PERMISSIVE FOR SELECT TO {role} USING (true);\n"
        "  END IF;\nEND $$"
    )


def enable_rls_with_read_policies(table: str) -> None:
    """RLS on; read policies for ``authenticated`` and, with ``RLS_ANON_READ``, ``anon``."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(_policy_block(table, "authenticated", AUTHENTICATED_POLICY))
    if anon_read_at_migrate_time():
        op.execute(_policy_block(table, "anon", ANON_POLICY))


def disable_rls_and_policies(table: str) -> None:
    """Undo :func:`enable_rls_with_read_policies`."""
    for policy in (AUTHENTICATED_POLICY, ANON_POLICY):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def rebuild_gin_index(table: str, column: str, *, opclass: str | None) -> None:
    """Recreate ``ix_<table>_<column>`` as GIN with ``opclass`` (``None``: the default)."""
    name = f"ix_{table}_{column}"
    op.drop_index(name, table_name=table)
    op.create_index(
        name,
        table,
        [column],
        postgresql_using="gin",
        postgresql_ops={column: opclass} if opclass else {},
    )
