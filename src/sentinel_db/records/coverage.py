"""Mapping coverage: a record of its own, so that `stats` need not load the other records."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Coverage(BaseModel):
    """How well the mappings cover the controls and agree with the guidance table."""

    model_config = ConfigDict(frozen=True)

    controls_total: int
    controls_with_rules: int
    rules_total: int
    rules_referenced: int
    controls_without_rules: list[str]
    rules_missing_guidance: list[str]
    mappings_without_control: list[str]

    @property
    def control_ratio(self) -> float:
        """Share of controls with at least one mapped rule (0 when there are none)."""
        return self.controls_with_rules / self.controls_total if self.controls_total else 0.0
