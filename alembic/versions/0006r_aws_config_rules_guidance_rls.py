"""aws_config_rules_guidance: row-level security, with read policies for Supabase's roles.

RLS on, so Supabase's Data API exposes nothing by default. Where the ``authenticated`` role exists
(Supabase) it may SELECT the table; ``anon`` may too only when ``RLS_ANON_READ=true`` at migrate
time. No policy allows writes. On plain PostgreSQL only RLS is switched on.

Revision ID: 0006r
Revises: 0005r
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from sentinel_db.schema.revision_ops import disable_rls_and_policies, enable_rls_with_read_policies

revision: str = "0006r"
down_revision: str | None = "0005r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_TABLE = "aws_config_rules_guidance"


def upgrade() -> None:
    enable_rls_with_read_policies(_TABLE)


def downgrade() -> None:
    disable_rls_and_policies(_TABLE)
