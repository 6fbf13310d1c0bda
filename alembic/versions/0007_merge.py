"""Merge: every table's branch as the single chain 0001..0007 used to build it (no schema change).

Databases migrated before the history was split per table are stamped ``0007``; this merge
covers exactly what that chain did, so they upgrade in place.

Revision ID: 0007
Revises: 0007c, 0007r, 0007m, 0006b
Create Date: 2026-11-25
"""

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | Sequence[str] | None = ("0007c", "0007r", "0007m", "0006b")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
