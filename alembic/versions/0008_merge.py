"""Head: least privilege, ranked search and data versions on every table; bookkeeping hidden.

Revision ID: 0008h
Revises: 0007, data_versions_controls, data_versions_rules, data_versions_mappings,
    import_run_figures
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0008h"
down_revision: str | Sequence[str] | None = (
    "0007",
    "data_versions_controls",
    "data_versions_rules",
    "data_versions_mappings",
    "import_run_figures",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
