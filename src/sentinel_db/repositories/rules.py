"""Queries on ``aws_config_rules_guidance``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from sentinel_db.records.models import AwsConfigRule
from sentinel_db.records.rows import AwsConfigRule as AwsConfigRuleRecord
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.search import RULE_SEARCH
from sentinel_db.repositories.searchable import SearchableMixin
from sentinel_db.search.query import ParsedQuery


class AwsConfigRuleRepository(SearchableMixin[AwsConfigRuleRecord], Repository[AwsConfigRule]):
    """AWS Config rule guidance, keyed by ``config_rule``."""

    model = AwsConfigRule
    record_type = AwsConfigRuleRecord
    key_name = "config_rule"
    search_source = RULE_SEARCH

    def named_in(self, query: ParsedQuery) -> Sequence[str]:
        """The rule names ``query`` names: their rows rank first."""
        return query.rule_names

    def get_by_rule_name(self, name: str) -> AwsConfigRule:
        """The guidance of rule ``name``.

        Raises:
            NotFoundError: there is none.
        """
        return self.get_by_key(name)

    def by_names(self, names: list[str]) -> dict[str, AwsConfigRule]:
        """The guidance rows of ``names`` that exist, by rule name."""
        if not names:
            return {}
        stmt = select(AwsConfigRule).where(AwsConfigRule.config_rule.in_(names))
        return {r.config_rule: r for r in self._run("read guidance", stmt).scalars()}

    def for_control(self, control_id: str) -> list[AwsConfigRule]:
        """Rules whose metadata names ``control_id`` in ``control_ids``.

        Written as containment on the whole document, which the GIN index on ``metadata``
        serves (``metadata->'control_ids' @> ...`` would not).
        """
        stmt = (
            select(AwsConfigRule)
            .where(AwsConfigRule.metadata_.contains({"control_ids": [control_id]}))
            .order_by(AwsConfigRule.config_rule)
        )
        return list(self._run("read guidance", stmt).scalars())
