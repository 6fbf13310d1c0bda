"""aws_config_rules_guidance full-text search: a generated tsvector column with a GIN index.

Revision ID: 0005r
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from sentinel_db.schema.revision_ops import add_search_vector, drop_search_vector

revision: str = "0005r"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_TABLE = "aws_config_rules_guidance"
# A frozen copy of the expression in models.py at the time of this revision.
_EXPRESSION = (
    "to_tsvector('english'::regconfig, "
    "((replace((config_rule)::text, '-'::text, ' '::text) || ' '::text) || chunk))"
)


def upgrade() -> None:
    add_search_vector(_TABLE, _EXPRESSION)


def downgrade() -> None:
    drop_search_vector(_TABLE)
