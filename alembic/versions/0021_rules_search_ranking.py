"""aws_config_rules_guidance: weighted search text and term statistics for relevance ranking.

Fields weigh A rule name (hyphens split), B guidance text, C the resource types named in
``metadata.resource_types`` (``AWS::EC2::SecurityGroup`` reads as ``AWS EC2 Security Group``), D the control ids in
``metadata.control_ids`` (so "rules for 8.3" finds the rules mapped to it).
Term statistics as for controls (revision 0020).

Revision ID: 0021
Revises: 0008r
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from sentinel_db.search.ddl import SearchTextSpec, create_search_text, drop_search_text

revision: str = "0021"
down_revision: str | None = "0008r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
creates_tables: tuple[str, ...] = ()

# Frozen copies of the expressions at the time of this revision.
_NEW = (
    "setweight(to_tsvector('english', regexp_replace(config_rule, '[-_]+', ' ', 'g')), 'A')"
    " || setweight(to_tsvector('english', regexp_replace(chunk, '[/_]+', ' ', 'g')), 'B')"
    " || setweight(to_tsvector('english', regexp_replace(regexp_replace("
    "coalesce(metadata ->> 'resource_types', ''), '([a-z])([A-Z])', '\\1 \\2', 'g'),"
    " '[^a-zA-Z0-9]+', ' ', 'g')), 'C')"
    " || setweight(to_tsvector('english', translate(coalesce(metadata ->> 'control_ids', ''),"
    " '[]\",', '    ')), 'D')"
)
_OLD = (
    "to_tsvector('english'::regconfig, "
    "((replace((config_rule)::text, '-'::text, ' '::text) || ' '::text) || chunk))"
)
SPEC = SearchTextSpec(table="aws_config_rules_guidance", key="config_rule")


def upgrade() -> None:
    create_search_text(SPEC, _NEW)


def downgrade() -> None:
    drop_search_text(SPEC, _OLD)
