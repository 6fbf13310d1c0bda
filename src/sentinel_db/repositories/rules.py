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
from sentinel_db.repositories.search import (
    CANDIDATE_CAP,
    RULE_FIELDS,
    SearchResult,
    SearchTable,
    ranked_search,
)
from sentinel_db.search.glossary import Glossary
from sentinel_db.search.query import parse_query


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

    def search_results(
        self,
        text: str,
        limit: int = 10,
        *,
        glossary: Glossary | None = None,
        candidates: int = CANDIDATE_CAP,
    ) -> SearchResult[AwsConfigRuleRecord]:
        """The best rules for ``text`` (a question or keywords), with match counts.

        ``candidates`` bounds the rows gathered above 10,000 rows (see :mod:`.search`).
        """
        return ranked_search(
            self.session,
            source=_SEARCH,
            record_type=AwsConfigRuleRecord,
            text=text,
            limit=limit,
            named=parse_query(text).rule_names,
            glossary=glossary,
            candidates=candidates,
        )

    def search(
        self,
        text: str,
        limit: int = 10,
        *,
        glossary: Glossary | None = None,
        embedding: Sequence[float] | Embedder | None = None,
        model: str | None = None,
    ) -> list[SearchHit[AwsConfigRuleRecord]]:
        """The best rules for ``text``, best first, each with a highlighted snippet.

        With ``embedding`` (a vector or an :class:`~sentinel_db.embeddings.Embedder`), these
        lexical hits are fused with the nearest stored vectors of ``model``; see
        :mod:`sentinel_db.repositories.hybrid`.
        """
        if embedding is not None:
            return hybrid_search(
                self, text, limit, embedding=embedding, model=model, glossary=glossary
            )
        return self.search_results(text, limit, glossary=glossary).hits


_SEARCH = SearchTable(
    table=AwsConfigRule.__table__,  # type: ignore[arg-type]
    key="config_rule",
    snippet="chunk",
    fields=RULE_FIELDS,
)
