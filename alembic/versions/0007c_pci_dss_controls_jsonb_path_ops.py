"""pci_dss_controls: its JSONB GIN index with jsonb_path_ops (containment only: smaller, faster).

Every query on this index is containment (``@>``). ``jsonb_path_ops`` indexes a hash of each path
and value instead of every key and value separately, so a lookup intersects far fewer posting
lists. The key-existence operators (``?``, ``?|``, ``?&``) lose index support; sentinel-db does
not use them.

Revision ID: 0007c
Revises: 0006c
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from sentinel_db.schema.revision_ops import rebuild_gin_index

revision: str = "0007c"
down_revision: str | None = "0006c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

_TABLE = "pci_dss_controls"
_COLUMN = "metadata"


def upgrade() -> None:
    rebuild_gin_index(_TABLE, _COLUMN, opclass="jsonb_path_ops")


def downgrade() -> None:
    rebuild_gin_index(_TABLE, _COLUMN, opclass=None)
