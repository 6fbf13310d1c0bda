"""Queries on ``aws_config_rules_guidance``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from sentinel_db.embeddings import Embedder
from sentinel_db.models import AwsConfigRule
from sentinel_db.records import AwsConfigRule as AwsConfigRuleRecord
from sentinel_db.records import SearchHit
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.hybrid import EmbeddingsMixin, hybrid_search
from sentinel_db.repositories.search import MAX_CANDIDATES, ranked_search


class AwsConfigRuleRepository(EmbeddingsMixin, Repository[AwsConfigRule]):
    """AWS Config rule guidance, keyed by ``config_rule``."""

    model = AwsConfigRule
    record_type = AwsConfigRuleRecord
    key_name = "config_rule"

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

    def search(
        self,
        text: str,
        limit: int = 10,
        *,
        candidates: int = MAX_CANDIDATES,
        embedding: Sequence[float] | Embedder | None = None,
        model: str | None = None,
    ) -> list[SearchHit[AwsConfigRuleRecord]]:
        """Ranked full-text search over rule name and guidance text.

        With ``embedding`` (a vector or an :class:`~sentinel_db.embeddings.Embedder`), the
        lexical and vector rankings are fused; see :mod:`sentinel_db.repositories.hybrid`.
        """
        if embedding is not None:
            return hybrid_search(self, text, limit, embedding=embedding, model=model)
        return ranked_search(
            self.session,
            model=AwsConfigRule,
            key=AwsConfigRule.config_rule,
            snippet_of=AwsConfigRule.chunk,
            record_type=AwsConfigRuleRecord,
            text=text,
            limit=limit,
            candidates=candidates,
        )
