"""aws_config_rules_guidance: every committed write advances its data version (statement-level trigger).

INSERT, UPDATE, DELETE and TRUNCATE, whoever runs them (the importer, a repository, psql), fire
the trigger once per statement inside the writer's transaction.

Revision ID: data_versions_rules
Revises: data_versions_controls
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "data_versions_rules"
down_revision: str | None = "data_versions_controls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_TABLE = "aws_config_rules_guidance"


def upgrade() -> None:
    op.execute(
        "INSERT INTO sentinel_db.data_versions (table_name, version)"
        f" VALUES ('{_TABLE}', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"
        " ON CONFLICT (table_name) DO NOTHING"
    )
    op.execute(
        f"CREATE TRIGGER sentinel_db_data_version"
        f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {_TABLE}"
        " FOR EACH STATEMENT EXECUTE FUNCTION sentinel_db.mark_data_version()"
    )


def downgrade() -> None:
    # The version row stays: numbers only ever grow, so a cache never mistakes old for new.
    op.execute(f"DROP TRIGGER IF EXISTS sentinel_db_data_version ON {_TABLE}")
