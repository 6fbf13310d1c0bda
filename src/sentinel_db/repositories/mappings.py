"""Queries on ``pci_aws_config_rule_mappings``: rules of a control, controls of a rule, coverage."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, text

from sentinel_db.records.models import PciAwsConfigMapping
from sentinel_db.records.rows import AwsConfigRule as AwsConfigRuleRecord
from sentinel_db.records.rows import Coverage, MappedRule, rule_name_of
from sentinel_db.records.rows import PciAwsConfigMapping as PciAwsConfigMappingRecord
from sentinel_db.repositories.base import Repository
from sentinel_db.repositories.rules import AwsConfigRuleRepository

# One row per (control, rule) pair, however an entry spells its rule.
_PAIRS = """
    SELECT m.control_id,
           CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}'
                ELSE coalesce(e ->> 'rule', e ->> 'rule_name') END AS rule
    FROM pci_aws_config_rule_mappings m
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE jsonb_typeof(m.config_rules) WHEN 'array' THEN m.config_rules ELSE '[]' END) e
"""

_COVERAGE = text(
    f"""
    WITH pairs AS ({_PAIRS}), named AS (SELECT * FROM pairs WHERE rule IS NOT NULL)
    SELECT
      (SELECT count(*) FROM pci_dss_controls) AS controls_total,
      (SELECT count(DISTINCT n.control_id) FROM named n
         JOIN pci_dss_controls c ON c.control_id = n.control_id) AS controls_with_rules,
      (SELECT count(*) FROM aws_config_rules_guidance) AS rules_total,
      (SELECT count(DISTINCT rule) FROM named) AS rules_referenced,
      ARRAY(SELECT c.control_id FROM pci_dss_controls c
            WHERE NOT EXISTS (SELECT 1 FROM named n WHERE n.control_id = c.control_id)
            ORDER BY c.control_id) AS controls_without_rules,
      ARRAY(SELECT DISTINCT n.rule FROM named n
            WHERE NOT EXISTS (SELECT 1 FROM aws_config_rules_guidance g
                              WHERE g.config_rule = n.rule)
            ORDER BY n.rule) AS rules_missing_guidance,
      ARRAY(SELECT m.control_id FROM pci_aws_config_rule_mappings m
            WHERE NOT EXISTS (SELECT 1 FROM pci_dss_controls c
                              WHERE c.control_id = m.control_id)
            ORDER BY m.control_id) AS mappings_without_control
    """
)


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
        found: dict[str, list[str]] = {c: [] for c in control_ids}
        if control_ids:
            stmt = select(PciAwsConfigMapping).where(
                PciAwsConfigMapping.control_id.in_(list(control_ids))
            )
            for mapping in self._run("read mappings", stmt).scalars():
                names = map(rule_name_of, mapping.config_rules)
                found[mapping.control_id] = list(dict.fromkeys(n for n in names if n))
        wanted = sorted({n for names in found.values() for n in names})
        guidance = AwsConfigRuleRepository(self.session).by_names(wanted) if with_guidance else {}
        return {
            control_id: [
                MappedRule(
                    rule=name,
                    guidance=AwsConfigRuleRecord.model_validate(guidance[name])
                    if name in guidance
                    else None,
                )
                for name in names
            ]
            for control_id, names in found.items()
        }

    def controls_for_rule(self, rule: str) -> list[str]:
        """Control ids whose mapping names ``rule`` (as a string or under ``rule``/``rule_name``).

        Three containment tests OR-ed together, each served by the GIN index on
        ``config_rules`` (a BitmapOr of index scans).
        """
        column = PciAwsConfigMapping.config_rules
        stmt = (
            select(PciAwsConfigMapping.control_id)
            .where(
                or_(
                    column.contains([rule]),
                    column.contains([{"rule": rule}]),
                    column.contains([{"rule_name": rule}]),
                )
            )
            .order_by(PciAwsConfigMapping.control_id)
        )
        return list(self._run("read mappings", stmt).scalars())

    def coverage(self) -> Coverage:
        """Controls without rules, rules without guidance, mappings without a control."""
        row = self._run("compute coverage", _COVERAGE).mappings().one()
        return Coverage.model_validate(dict(row))
