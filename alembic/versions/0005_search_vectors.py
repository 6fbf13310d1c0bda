"""Full-text search: generated tsvector columns with GIN indexes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

# Frozen copies of the expressions in models.py at the time of this revision.
_CONTROL = (
    "to_tsvector('english'::regconfig, "
    "(((control_id)::text || ' '::text) || COALESCE(requirement, ''::text)) || ' '::text || chunk)"
)
_RULE = (
    "to_tsvector('english'::regconfig, "
    "((replace((config_rule)::text, '-'::text, ' '::text) || ' '::text) || chunk))"
)


def upgrade() -> None:
    for table, expression in (("pci_dss_controls", _CONTROL), ("aws_config_rules_guidance", _RULE)):
        op.add_column(
            table,
            sa.Column(
                "search_vector",
                postgresql.TSVECTOR(),
                sa.Computed(expression, persisted=True),
                nullable=True,
            ),
        )
        op.create_index(
            f"ix_{table}_search_vector", table, ["search_vector"], postgresql_using="gin"
        )


def downgrade() -> None:
    for table in ("aws_config_rules_guidance", "pci_dss_controls"):
        op.drop_index(f"ix_{table}_search_vector", table_name=table)
        op.drop_column(table, "search_vector")
