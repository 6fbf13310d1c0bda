"""aws_config_rules_guidance: guidance per AWS Config rule.

Revision ID: 0002
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("aws_config_rules_guidance",)
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ("aws_config_rules_guidance",)


def upgrade() -> None:
    op.create_table(
        "aws_config_rules_guidance",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("config_rule", sa.String(length=100), nullable=False),
        sa.Column("chunk", sa.Text(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_aws_config_rules_guidance"),
        sa.UniqueConstraint("config_rule", name="uq_aws_config_rules_guidance_config_rule"),
    )
    op.create_index(
        "ix_aws_config_rules_guidance_metadata",
        "aws_config_rules_guidance",
        ["metadata"],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_table("aws_config_rules_guidance")
