"""pci_aws_config_rule_mappings: every committed write advances its data version (statement-level trigger).

INSERT, UPDATE, DELETE and TRUNCATE, whoever runs them (the importer, a repository, psql), fire
the trigger once per statement inside the writer's transaction.

Revision ID: data_versions_mappings
Revises: 0008m
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from sentinel_db.schema.data_versions import ensure_data_versions, track_table, untrack_table

revision: str = "data_versions_mappings"
down_revision: str | None = "0008m"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_TABLE = "pci_aws_config_rule_mappings"


def upgrade() -> None:
    ensure_data_versions()
    track_table(_TABLE)


def downgrade() -> None:
    untrack_table(_TABLE)
