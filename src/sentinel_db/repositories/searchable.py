"""``search`` and ``search_results`` for the repositories of tables with a ranked search column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, cast

from sqlalchemy.orm import Session

from sentinel_db.records.embeddings import Embedder
from sentinel_db.records.rows import RecordT, SearchHits
from sentinel_db.repositories.auto_hybrid import question_vector
from sentinel_db.repositories.hybrid import EmbeddingsMixin, hybrid_search
from sentinel_db.repositories.search import (
    CANDIDATE_CAP,
    SearchResult,
    SearchTable,
    ranked_search,
)
from sentinel_db.search.glossary import Glossary
from sentinel_db.search.query import ParsedQuery, parse_query


class SearchableMixin(EmbeddingsMixin, Generic[RecordT]):
    """Relevance search (and hybrid search with vectors) over ``search_source``.

    A repository names its searchable table (``search_source``) and which keys a query names
    (:meth:`named_in`); those rows come first.
    """

    search_source: ClassVar[SearchTable]
    record_type: ClassVar[type[Any]]
    session: Session

    def named_in(self, query: ParsedQuery) -> Sequence[str]:
        """The keys of this table that ``query`` names (they rank first)."""
        return ()

    def search_results(
        self,
        text: str,
        limit: int = 10,
        *,
        glossary: Glossary | None = None,
        candidates: int = CANDIDATE_CAP,
    ) -> SearchResult[RecordT]:
        """The best rows for ``text`` (a question or keywords), with match counts.

        ``candidates`` bounds the rows gathered above 10,000 rows (see :mod:`.search`).
        """
        return ranked_search(
            self.session,
            source=self.search_source,
            record_type=cast(type[RecordT], self.record_type),
            text=text,
            limit=limit,
            named=self.named_in(parse_query(text)),
            glossary=glossary,
            candidates=candidates,
        )

    def search(
        self,
        text: str,
        limit: int = 10,
        *,
        glossary: Glossary | None = None,
        embedding: Sequence[float] | Embedder | bool | None = None,
        model: str | None = None,
    ) -> SearchHits[RecordT]:
        """The best rows for ``text``, best first, each with a highlighted snippet.

        By default the lexical hits are fused with the nearest stored vectors when the
        database has an embedding provider and this table stores vectors of its model (see
        :mod:`sentinel_db.repositories.auto_hybrid`); ``embedding=False`` asks for lexical
        only. With ``embedding`` (a vector or an :class:`~sentinel_db.records.embeddings.Embedder`)
        the fusion uses it and ``model``'s stored vectors. The result's ``mode`` says which.
        """
        plan = question_vector(self, text, embedding, model)
        if plan.vector is None:
            hits = self.search_results(text, limit, glossary=glossary).hits
            return SearchHits.of(hits, plan.mode, plan.note)
        fused = hybrid_search(
            self, text, limit, embedding=plan.vector, model=plan.model, glossary=glossary
        )
        return SearchHits.of(fused, "hybrid")
