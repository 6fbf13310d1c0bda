"""pci_dss_controls: PCI DSS controls with JSONB metadata (root of the table's branch).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("pci_dss_controls",)
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ("pci_dss_controls",)


def upgrade() -> None:
    op.create_table(
        "pci_dss_controls",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("control_id", sa.String(length=20), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=True),
        sa.Column("chunk", sa.Text(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pci_dss_controls"),
        sa.UniqueConstraint("control_id", name="uq_pci_dss_controls_control_id"),
    )
    op.create_index(
        "ix_pci_dss_controls_metadata", "pci_dss_controls", ["metadata"], postgresql_using="gin"
    )
    op.create_index(
        "ix_pci_dss_controls_control_category",
        "pci_dss_controls",
        [sa.text("(metadata ->> 'control_category')")],
    )
    op.create_index(
        "ix_pci_dss_controls_requirements_id",
        "pci_dss_controls",
        [sa.text("(metadata ->> 'requirements_id')")],
    )


def downgrade() -> None:
    op.drop_table("pci_dss_controls")
