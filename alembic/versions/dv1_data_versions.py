"""sentinel_db.data_versions: one version per reference table, advanced by every committed write.

A repository cache compares these numbers once per unit of work and drops what changed. The
versions are advanced by statement-level triggers (one revision per table) in the writer's own
transaction, so a rolled-back write leaves them as they were. A table's first version is the
current time in microseconds, so a table re-created later never repeats an old number.

Revision ID: data_versions
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "data_versions"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS sentinel_db")
    op.execute(
        """
        CREATE TABLE sentinel_db.data_versions (
            table_name text NOT NULL,
            version bigint NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_data_versions PRIMARY KEY (table_name)
        )
        """
    )
    # SECURITY INVOKER: the writer needs the right to update the versions, nothing is borrowed.
    # A fixed search_path keeps a caller's path from redirecting the names used here.
    op.execute(
        """
        CREATE FUNCTION sentinel_db.bump_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            -- Under row-level security with no policy that lets anything be written, the
            -- statement changed no row (Supabase's anon and authenticated): nothing to record,
            -- and those roles need no right on the versions. TRUNCATE ignores RLS.
            IF TG_OP <> 'TRUNCATE' AND row_security_active(TG_RELID) AND NOT EXISTS (
                SELECT 1 FROM pg_policies
                WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME
                  AND cmd <> 'SELECT'
            ) THEN
                RETURN NULL;
            END IF;
            INSERT INTO sentinel_db.data_versions AS v (table_name, version, changed_at)
            VALUES (TG_TABLE_NAME, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now())
            ON CONFLICT (table_name)
            DO UPDATE SET version = v.version + 1, changed_at = now();
            RETURN NULL;
        END
        $$
        """
    )
    # Supabase writes as service_role and may read as authenticated: neither owns these objects.
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
                GRANT USAGE ON SCHEMA sentinel_db TO service_role;
                GRANT SELECT, INSERT, UPDATE ON sentinel_db.data_versions TO service_role;
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
                GRANT USAGE ON SCHEMA sentinel_db TO authenticated;
                GRANT SELECT ON sentinel_db.data_versions TO authenticated;
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS sentinel_db.bump_data_version()")
    op.execute("DROP TABLE IF EXISTS sentinel_db.data_versions")
