"""Queries on ``pci_dss_controls``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, literal_column, select

from sentinel_db.embeddings import Embedder
from sentinel_db.models import PciControl
from sentinel_db.records import PciControl as PciControlRecord
from sentinel_db.records import SearchHit
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.hybrid import EmbeddingsMixin, hybrid_search
from sentinel_db.repositories.search import (
    CANDIDATE_CAP,
    CONTROL_FIELDS,
    SearchResult,
    SearchTable,
    ranked_search,
)
from sentinel_db.search.glossary import Glossary
from sentinel_db.search.query import parse_query

# Spelled as literals, not bound parameters: only then does the planner match the
# expression indexes ix_pci_dss_controls_requirements_id / _control_category, even
# under a generic (prepared) plan.
_requirement_id: ColumnElement[str] = literal_column(
    "pci_dss_controls.metadata ->> 'requirements_id'", String
)
_control_category: ColumnElement[str] = literal_column(
    "pci_dss_controls.metadata ->> 'control_category'", String
)


class PciControlRepository(EmbeddingsMixin, Repository[PciControl]):
    """PCI DSS controls, keyed by ``control_id``."""

    model = PciControl
    record_type = PciControlRecord
    key_name = "control_id"

    def get_by_control_id(self, control_id: str) -> PciControl:
        """The control ``control_id``.

        Raises:
            NotFoundError: there is none.
        """
        return self.get_by_key(control_id)

    def by_requirement(self, requirements_id: str, *, limit: int | None = None) -> list[PciControl]:
        """Controls of top-level requirement ``requirements_id`` (``metadata.requirements_id``)."""
        stmt = (
            select(PciControl)
            .where(_requirement_id == requirements_id)
            .order_by(PciControl.control_id)
            .limit(limit)
        )
        return list(self._run("read pci_dss_controls", stmt).scalars())

    def by_category(self, category: str, *, limit: int | None = None) -> list[PciControl]:
        """Controls whose ``metadata.control_category`` is ``category``."""
        stmt = (
            select(PciControl)
            .where(_control_category == category)
            .order_by(PciControl.control_id)
            .limit(limit)
        )
        return list(self._run("read pci_dss_controls", stmt).scalars())

    def metadata_contains(
        self, fragment: dict[str, Any], *, limit: int | None = None
    ) -> list[PciControl]:
        """Controls whose metadata contains ``fragment`` (JSONB ``@>``, GIN index)."""
        stmt = (
            select(PciControl)
            .where(PciControl.metadata_.contains(fragment))
            .order_by(PciControl.control_id)
            .limit(limit)
        )
        return list(self._run("read pci_dss_controls", stmt).scalars())

    def search_results(
        self,
        text: str,
        limit: int = 10,
        *,
        glossary: Glossary | None = None,
        candidates: int = CANDIDATE_CAP,
    ) -> SearchResult[PciControlRecord]:
        """The best controls for ``text`` (a question or keywords), with match counts.

        ``candidates`` bounds the rows gathered above 10,000 rows (see :mod:`.search`).
        """
        return ranked_search(
            self.session,
            source=_SEARCH,
            record_type=PciControlRecord,
            text=text,
            limit=limit,
            named=parse_query(text).control_ids,
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
    ) -> list[SearchHit[PciControlRecord]]:
        """The best controls for ``text``, best first, each with a highlighted snippet.

        With ``embedding`` (a vector or an :class:`~sentinel_db.embeddings.Embedder`), these
        lexical hits are fused with the nearest stored vectors of ``model``; see
        :mod:`sentinel_db.repositories.hybrid`.
        """
        if embedding is not None:
            return hybrid_search(
                self, text, limit, embedding=embedding, model=model, glossary=glossary
            )
        return self.search_results(text, limit, glossary=glossary).hits

    def search_by_content(self, text: str, limit: int = 10) -> list[SearchHit[PciControlRecord]]:
        """Same as :meth:`search` (the name existing services call)."""
        return self.search(text, limit)


_SEARCH = SearchTable(
    table=PciControl.__table__,  # type: ignore[arg-type]
    key="control_id",
    snippet="chunk",
    fields=CONTROL_FIELDS,
)
