"""DDL for the data versions behind the repository cache, called by the per-table revisions.

sentinel_db.data_versions: one version per reference table, advanced by every committed write.

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
repeats an old number. Both functions are SECURITY INVOKER with a fixed search_path; the
tables are hidden from every API role, like the rest of the bookkeeping.

Each reference table's branch has a revision that calls :func:`ensure_data_versions` (creating
the shared objects when they are missing, so any order of branches works) and
:func:`track_table`; its downgrade calls :func:`untrack_table`, which drops the shared objects
once no table uses them. Rolling back one table therefore leaves the others' versions alone.
Revisions are history: keep what these functions create stable; change it in new functions.
"""

from __future__ import annotations

from alembic import op
from sentinel_db.schema.access import protect_private_schema, protect_private_table

SCHEMA = "sentinel_db"
_FIRST_VERSION = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"


def ensure_data_versions() -> None:
    """Create the versions table, the marks table and both functions, where missing."""
    protect_private_schema(SCHEMA)
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS sentinel_db.data_versions (
            table_name text NOT NULL,
            version bigint NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_data_versions PRIMARY KEY (table_name)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS sentinel_db.data_version_marks (
            txid bigint NOT NULL,
            table_name text NOT NULL,
            CONSTRAINT pk_data_version_marks PRIMARY KEY (txid, table_name)
        )
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION sentinel_db.mark_data_version() RETURNS trigger
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
        CREATE OR REPLACE FUNCTION sentinel_db.bump_data_version() RETURNS trigger
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
        "DO $$\nBEGIN\n"
        "  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'sentinel_db_bump_at_commit'"
        " AND tgrelid = 'sentinel_db.data_version_marks'::regclass) THEN\n"
        "    CREATE CONSTRAINT TRIGGER sentinel_db_bump_at_commit"
        " AFTER INSERT ON sentinel_db.data_version_marks"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        " EXECUTE FUNCTION sentinel_db.bump_data_version();\n"
        "  END IF;\nEND $$"
    )
    for table in ("data_versions", "data_version_marks"):
        protect_private_table(f"sentinel_db.{table}")


def track_table(table: str) -> None:
    """Give ``table`` a version and the statement trigger that advances it."""
    op.execute(
        "INSERT INTO sentinel_db.data_versions (table_name, version)"
        f" VALUES ('{table}', {_FIRST_VERSION}) ON CONFLICT (table_name) DO NOTHING"
    )
    op.execute(
        "CREATE TRIGGER sentinel_db_data_version"
        f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.mark_data_version()"
    )


def untrack_table(table: str) -> None:
    """Drop ``table``'s trigger; the shared objects go too once no table uses them.

    The version row stays while they do, one step on: numbers only ever grow, so a cache never
    mistakes old for new, not even for the empty table ``migrate`` creates again.
    """
    op.execute(
        "DO $$\nBEGIN\n"
        "  IF to_regclass('sentinel_db.data_versions') IS NOT NULL THEN\n"
        "    UPDATE sentinel_db.data_versions SET version = version + 1, changed_at = now()"
        f" WHERE table_name = '{table}';\n"
        "  END IF;\nEND $$"
    )
    op.execute(f"DROP TRIGGER IF EXISTS sentinel_db_data_version ON {table}")
    op.execute(
        "DO $$\nBEGIN\n"
        "  IF NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE p.proname = 'mark_data_version' AND n.nspname = 'sentinel_db') THEN\n"
        "    DROP TABLE IF EXISTS sentinel_db.data_version_marks;\n"
        "    DROP FUNCTION IF EXISTS sentinel_db.bump_data_version();\n"
        "    DROP FUNCTION IF EXISTS sentinel_db.mark_data_version();\n"
        "    DROP TABLE IF EXISTS sentinel_db.data_versions;\n"
        "  END IF;\nEND $$"
    )
