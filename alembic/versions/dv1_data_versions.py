"""sentinel_db.data_versions: one version per reference table, advanced by every committed write.

A repository cache compares these numbers once per unit of work and drops what changed.

How a write advances its table's version (the per-table revisions add the first step):

1. A statement-level trigger on the table (``mark_data_version``) notes "this transaction wrote
   this table" in ``data_version_marks``: one row per transaction and table, keyed by the
   transaction id, so concurrent writers never wait for each other here.
2. That row's deferred constraint trigger (``bump_data_version``) runs as the transaction commits:
   it advances the version and removes the mark. The version row is locked only for that moment,
   so a long import does not hold up other writers of the table, and a rolled-back write
   advances nothing.

A table's first version is the current time in microseconds, so a table re-created later never
repeats an old number. Both functions are SECURITY INVOKER with a fixed search_path.

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

_FIRST_VERSION = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"


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
    op.execute(
        """
        CREATE TABLE sentinel_db.data_version_marks (
            txid bigint NOT NULL,
            table_name text NOT NULL,
            CONSTRAINT pk_data_version_marks PRIMARY KEY (txid, table_name)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION sentinel_db.mark_data_version() RETURNS trigger
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
            INSERT INTO sentinel_db.data_version_marks (txid, table_name)
            VALUES (pg_current_xact_id()::text::bigint, TG_TABLE_NAME)
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION sentinel_db.bump_data_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
        AS $$
        BEGIN
            INSERT INTO sentinel_db.data_versions AS v (table_name, version, changed_at)
            VALUES (NEW.table_name, {_FIRST_VERSION}, now())
            ON CONFLICT (table_name)
            DO UPDATE SET version = v.version + 1, changed_at = now();
            DELETE FROM sentinel_db.data_version_marks
            WHERE txid = NEW.txid AND table_name = NEW.table_name;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER sentinel_db_bump_at_commit"
        " AFTER INSERT ON sentinel_db.data_version_marks"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        " EXECUTE FUNCTION sentinel_db.bump_data_version()"
    )
    # Supabase writes as service_role and may read as authenticated: neither owns these objects.
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
                GRANT USAGE ON SCHEMA sentinel_db TO service_role;
                GRANT SELECT, INSERT, UPDATE ON sentinel_db.data_versions TO service_role;
                GRANT SELECT, INSERT, DELETE ON sentinel_db.data_version_marks TO service_role;
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
    op.execute("DROP TABLE IF EXISTS sentinel_db.data_version_marks")
    op.execute("DROP FUNCTION IF EXISTS sentinel_db.bump_data_version()")
    op.execute("DROP FUNCTION IF EXISTS sentinel_db.mark_data_version()")
    op.execute("DROP TABLE IF EXISTS sentinel_db.data_versions")
