"""Head: every table's branch with least privilege and ranked search, bookkeeping out of reach.

Revision ID: 0008h
Revises: 0007, 0020, 0021, 0008m
Create Date: 2026-12-01
"""

from collections.abc import Sequence

revision: str = "0008h"
down_revision: str | Sequence[str] | None = ("0007", "0020", "0021", "0008m")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
