"""pci_dss_controls full-text search: a generated tsvector column with a GIN index.

Revision ID: 0005c
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005c"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_TABLE = "pci_dss_controls"
# A frozen copy of the expression in models.py at the time of this revision.
_EXPRESSION = (
    "to_tsvector('english'::regconfig, "
    "(((control_id)::text || ' '::text) || COALESCE(requirement, ''::text)) || ' '::text || chunk)"
)


def upgrade() -> None:
    op.add_column(
        _TABLE,
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(_EXPRESSION, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(f"ix_{_TABLE}_search_vector", _TABLE, ["search_vector"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index(f"ix_{_TABLE}_search_vector", table_name=_TABLE)
    op.drop_column(_TABLE, "search_vector")
