"""aws_config_rules_guidance: least privilege for Supabase's API roles, beyond row-level security.

Supabase's default privileges grant ``anon``, ``authenticated`` and ``service_role`` ALL on every
new table in ``public``. RLS does not govern ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER``, so those
and every write are revoked; ``SELECT`` stays only where a read policy needs it (and for
``service_role``). The policies are recreated as they were. See ``sentinel_db.schema.access``.

The downgrade changes nothing: going back must never hand privileges out again.

Revision ID: 0008r
Revises: 0007r
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from sentinel_db.schema.access import protect_api_table

revision: str = "0008r"
down_revision: str | None = "0007r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()


def upgrade() -> None:
    protect_api_table("aws_config_rules_guidance")


def downgrade() -> None:
    pass
