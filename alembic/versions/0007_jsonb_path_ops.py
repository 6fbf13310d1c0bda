"""JSONB GIN indexes with jsonb_path_ops: containment queries only, smaller and faster.

Every query on these indexes is containment (``@>``). ``jsonb_path_ops`` indexes a hash of each
path and value instead of every key and value separately, so a lookup such as
``{"requirements_id": "7", "aws_config_mapped": true}`` intersects two posting lists, not four
(two of them covering every row). The key-existence operators (``?``, ``?|``, ``?&``) lose
index support; sentinel-db does not use them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_INDEXES = (
    ("ix_pci_dss_controls_metadata", "pci_dss_controls", "metadata"),
    ("ix_aws_config_rules_guidance_metadata", "aws_config_rules_guidance", "metadata"),
    (
        "ix_pci_aws_config_rule_mappings_config_rules",
        "pci_aws_config_rule_mappings",
        "config_rules",
    ),
)


def _rebuild(ops: dict[str, str] | None) -> None:
    for name, table, column in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: ops[column]} if ops else {},
        )


def upgrade() -> None:
    _rebuild({"metadata": "jsonb_path_ops", "config_rules": "jsonb_path_ops"})


def downgrade() -> None:
    _rebuild(None)
