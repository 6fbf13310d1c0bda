"""import_runs: row-level security on, and no policy (no API role reads the history).

Revision ID: 0006b
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006b"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()


def upgrade() -> None:
    op.execute("ALTER TABLE import_runs ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute("ALTER TABLE import_runs DISABLE ROW LEVEL SECURITY")
