"""Row-level security on every table, with read policies for Supabase's roles.

RLS is switched on for all four tables, so Supabase's Data API exposes nothing by default.
Where the ``authenticated`` role exists (Supabase), it may SELECT the three reference tables;
``anon`` may too only when ``RLS_ANON_READ=true`` at migrate time. No policy allows writes:
they go through roles that bypass RLS (``service_role``, ``postgres``, the table owner).
``import_runs`` has no policy at all. On plain PostgreSQL, without those roles, only RLS is
switched on; ``sentinel-db auth policies`` adds the policies if the roles appear later.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

# Frozen copies of the names at the time of this revision (library code may move on).
_REFERENCE_TABLES = (
    "pci_dss_controls",
    "aws_config_rules_guidance",
    "pci_aws_config_rule_mappings",
)
_ALL_TABLES = (*_REFERENCE_TABLES, "import_runs")
_AUTHENTICATED_POLICY = "sentinel_db_authenticated_read"
_ANON_POLICY = "sentinel_db_anon_read"


def _anon_read() -> bool:
    """RLS_ANON_READ at migrate time: an explicit Alembic attribute, else the settings."""
    config = op.get_context().config
    if config is not None and "rls_anon_read" in config.attributes:
        return bool(config.attributes["rls_anon_read"])
    from sentinel_db.config import get_settings
    from sentinel_db.errors import SentinelDBError

    try:
        return get_settings().rls_anon_read
    except SentinelDBError:
        return False  # unreadable settings: keep the safe default, no anon access


def _policy_block(role: str, policy: str) -> str:
    # No colons anywhere: op.execute treats ":name" as a bind parameter.
    creates = "\n".join(
        f"    CREATE POLICY {policy} ON {table} AS PERMISSIVE FOR SELECT TO {role} USING (true);"
        for table in _REFERENCE_TABLES
    )
    return (
        "DO $$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN\n"
        f"{creates}\n"
        "  END IF;\nEND $$"
    )


def upgrade() -> None:
    for table in _ALL_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(_policy_block("authenticated", _AUTHENTICATED_POLICY))
    if _anon_read():
        op.execute(_policy_block("anon", _ANON_POLICY))


def downgrade() -> None:
    for table in reversed(_ALL_TABLES):
        for policy in (_ANON_POLICY, _AUTHENTICATED_POLICY):
            op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
