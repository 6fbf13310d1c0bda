"""import_runs: duration, rows per second and peak memory of each file's import.

Revision ID: import_run_figures
Revises: 0008b
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "import_run_figures"
down_revision: str | None = "0008b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_SCHEMA = "sentinel_db"
_COLUMNS = ("duration_seconds", "rows_per_second", "peak_memory_bytes")


def upgrade() -> None:
    op.add_column(
        "import_runs", sa.Column("duration_seconds", sa.Float(), nullable=True), schema=_SCHEMA
    )
    op.add_column(
        "import_runs", sa.Column("rows_per_second", sa.Float(), nullable=True), schema=_SCHEMA
    )
    op.add_column(
        "import_runs",
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True),
        schema=_SCHEMA,
    )


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.drop_column("import_runs", name, schema=_SCHEMA)
