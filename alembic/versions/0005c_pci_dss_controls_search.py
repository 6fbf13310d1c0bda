"""pci_dss_controls full-text search: a generated tsvector column with a GIN index.

Revision ID: 0005c
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from sentinel_db.schema.revision_ops import add_search_vector, drop_search_vector

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
    add_search_vector(_TABLE, _EXPRESSION)


def downgrade() -> None:
    drop_search_vector(_TABLE)
