"""pci_aws_config_rule_mappings: PCI control to AWS Config rules.

Revision ID: 0003
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0003"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("pci_aws_config_rule_mappings",)
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ("pci_aws_config_rule_mappings",)


def upgrade() -> None:
    op.create_table(
        "pci_aws_config_rule_mappings",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("control_id", sa.String(length=20), nullable=False),
        sa.Column("config_rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pci_aws_config_rule_mappings"),
        sa.UniqueConstraint("control_id", name="uq_pci_aws_config_rule_mappings_control_id"),
    )
    op.create_index(
        "ix_pci_aws_config_rule_mappings_config_rules",
        "pci_aws_config_rule_mappings",
        ["config_rules"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_table("pci_aws_config_rule_mappings")
