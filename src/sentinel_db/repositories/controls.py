"""Queries on ``pci_dss_controls``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, literal_column, select

from sentinel_db.records.models import PciControl
from sentinel_db.records.rows import PciControl as PciControlRecord
from sentinel_db.records.rows import SearchHits
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.search import CONTROL_SEARCH
from sentinel_db.repositories.searchable import SearchableMixin
from sentinel_db.search.query import ParsedQuery

# Spelled as literals, not bound parameters: only then does the planner match the
# expression indexes ix_pci_dss_controls_requirements_id / _control_category, even
# under a generic (prepared) plan.
_requirement_id: ColumnElement[str] = literal_column(
    "pci_dss_controls.metadata ->> 'requirements_id'", String
)
_control_category: ColumnElement[str] = literal_column(
    "pci_dss_controls.metadata ->> 'control_category'", String
)


class PciControlRepository(SearchableMixin[PciControlRecord], Repository[PciControl]):
    """PCI DSS controls, keyed by ``control_id``."""

    model = PciControl
    record_type = PciControlRecord
    key_name = "control_id"
    search_source = CONTROL_SEARCH

    def named_in(self, query: ParsedQuery) -> Sequence[str]:
        """The control ids ``query`` names: their rows rank first."""
        return query.control_ids

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

    def search_by_content(
        self, text: str, limit: int = 10, *, embedding: bool | None = None
    ) -> SearchHits[PciControlRecord]:
        """Same as :meth:`search`: hybrid when configured, ``embedding=False`` for lexical."""
        return self.search(text, limit, embedding=embedding)
