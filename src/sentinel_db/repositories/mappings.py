"""Queries on ``pci_aws_config_rule_mappings``: rules of a control, controls of a rule, coverage."""

from __future__ import annotations

from collections.abc import Sequence

from sentinel_db.records.coverage import Coverage
from sentinel_db.records.models import PciAwsConfigMapping
from sentinel_db.records.rows import MappedRule
from sentinel_db.records.rows import PciAwsConfigMapping as PciAwsConfigMappingRecord
from sentinel_db.repositories import reads
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.stats import coverage_of


class PciAwsConfigMappingRepository(Repository[PciAwsConfigMapping]):
    """Control-to-rule mappings, keyed by ``control_id``."""

    model = PciAwsConfigMapping
    record_type = PciAwsConfigMappingRecord
    key_name = "control_id"

    def rules_for_control(
        self, control_id: str, *, with_guidance: bool = False
    ) -> list[MappedRule]:
        """The rules mapped to ``control_id``, in mapping order (empty when unmapped).

        With ``with_guidance``, each rule carries its guidance row when the table has one.
        """
        return self.rules_for_controls([control_id], with_guidance=with_guidance)[control_id]

    def rules_for_controls(
        self, control_ids: Sequence[str], *, with_guidance: bool = False
    ) -> dict[str, list[MappedRule]]:
        """:meth:`rules_for_control` for several controls in two queries (every id a key)."""
        return reads.rules_for_controls(self.session, control_ids, with_guidance=with_guidance)

    def controls_for_rule(self, rule: str) -> list[str]:
        """Control ids whose mapping names ``rule`` (as a string or under ``rule``/``rule_name``).

        Three containment tests OR-ed together, each served by the GIN index on
        ``config_rules`` (a BitmapOr of index scans).
        """
        return reads.controls_for_rule(self.session, rule)

    def coverage(self) -> Coverage:
        """Controls without rules, rules without guidance, mappings without a control."""
        return coverage_of(self.session)
