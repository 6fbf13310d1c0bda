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
            INSERT INTO sentinel_db.data_versions AS v (table_name, version, changed_at)
            VALUES (TG_TABLE_NAME, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, now())
            ON CONFLICT (table_name)
            DO UPDATE SET version = v.version + 1, changed_at = now();
            RETURN NULL;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS sentinel_db.bump_data_version()")
    op.execute("DROP TABLE IF EXISTS sentinel_db.data_versions")
