"""import_runs: one row per file per import run.

Revision ID: 0004
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0004"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("bookkeeping",)
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ("import_runs",)


def upgrade() -> None:
    counter = {"nullable": False, "server_default": sa.text("0")}
    op.create_table(
        "import_runs",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("run_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.Integer(), **counter),
        sa.Column("inserted", sa.Integer(), **counter),
        sa.Column("updated", sa.Integer(), **counter),
        sa.Column("unchanged", sa.Integer(), **counter),
        sa.Column("rejected", sa.Integer(), **counter),
        sa.Column("warnings", sa.Integer(), **counter),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sentinel_version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
    )
    op.create_index(
        "ix_import_runs_table_name_started_at", "import_runs", ["table_name", "started_at"]
    )


def downgrade() -> None:
    op.drop_table("import_runs")
