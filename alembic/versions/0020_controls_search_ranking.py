"""pci_dss_controls: weighted search text and term statistics for relevance ranking.

The search column is rebuilt with one weight per field (A control id, B text, C requirement
title, D section title from ``metadata.control_category``), and ``/`` and ``_`` split words, so
``passwords/passphrases`` yields both words. ``sentinel_db.pci_dss_controls_search_terms`` keeps
each lexeme's document frequency and ``..._search_totals`` the row count and total length, kept
exact by statement-level triggers in the writing transaction, so ranking can weigh rare terms
without scanning the table.

Revision ID: 0020
Revises: 0008c
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from sentinel_db.search.ddl import SearchTextSpec, create_search_text, drop_search_text

revision: str = "0020"
down_revision: str | None = "0008c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

# Frozen copies of the expressions at the time of this revision.
_NEW = (
    "setweight(to_tsvector('english', control_id), 'A')"
    " || setweight(to_tsvector('english', regexp_replace(chunk, '[/_]+', ' ', 'g')), 'B')"
    " || setweight(to_tsvector('english',"
    " regexp_replace(coalesce(requirement, ''), '[/_]+', ' ', 'g')), 'C')"
    " || setweight(to_tsvector('english',"
    " regexp_replace(coalesce(metadata ->> 'control_category', ''), '[-/_]+', ' ', 'g')), 'D')"
)
_OLD = (
    "to_tsvector('english'::regconfig, "
    "(((control_id)::text || ' '::text) || COALESCE(requirement, ''::text)) || ' '::text || chunk)"
)
SPEC = SearchTextSpec(table="pci_dss_controls", key="control_id")


def upgrade() -> None:
    create_search_text(SPEC, _NEW)


def downgrade() -> None:
    drop_search_text(SPEC, _OLD)
