"""pci_aws_config_rule_mappings: row-level security, with read policies for Supabase's roles.

RLS on, so Supabase's Data API exposes nothing by default. Where the ``authenticated`` role exists
(Supabase) it may SELECT the table; ``anon`` may too only when ``RLS_ANON_READ=true`` at migrate
time. No policy allows writes. On plain PostgreSQL only RLS is switched on.

Revision ID: 0006m
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op
from sentinel_db.access import anon_read_at_migrate_time

revision: str = "0006m"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

# Frozen copies of the names at the time of this revision (library code may move on).
_TABLE = "pci_aws_config_rule_mappings"
_POLICIES = (("authenticated", "sentinel_db_authenticated_read"), ("anon", "sentinel_db_anon_read"))


def _policy_block(role: str, policy: str) -> str:
    # No colons anywhere: op.execute treats ":name" as a bind parameter.
    return (
        "DO $$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN\n"
        f"    CREATE POLICY {policy} ON {_TABLE} AS PERMISSIVE FOR SELECT TO {role} USING (true);\n"
        "  END IF;\nEND $$"
    )


def upgrade() -> None:
    op.execute(f"ALTER TABLE {_TABLE} ENABLE ROW LEVEL SECURITY")
    for role, policy in _POLICIES:
        if role == "authenticated" or anon_read_at_migrate_time():
            op.execute(_policy_block(role, policy))


def downgrade() -> None:
    for _, policy in _POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {_TABLE}")
    op.execute(f"ALTER TABLE {_TABLE} DISABLE ROW LEVEL SECURITY")
