"""Per-table queries: lookups by metadata, full-text search, reverse lookups, coverage, stats."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from sqlalchemy.orm import Session

from sentinel_db import AwsConfigRuleRepository, PciAwsConfigMappingRepository, PciControlRepository
from sentinel_db.errors import UsageError
from sentinel_db.records.rows import PciAwsConfigMapping, rule_name_of
from sentinel_db.records.tables import resolve_tables
from sentinel_db.repositories import HIGHLIGHT_START, HIGHLIGHT_STOP
from sentinel_db.repositories.stats import count_rows, database_stats
from sentinel_db.repositories.tables import clear_tables
from tests.data_helpers import (
    CONTROLS_CSV,
    MAPPINGS_CSV,
    RULES_CSV,
    load_sample,
    read_csv,
    sample_count,
    sample_file,
)

CONTROLS, RULES, MAPPINGS = (sample_count(n) for n in (CONTROLS_CSV, RULES_CSV, MAPPINGS_CSV))


@pytest.fixture
def loaded(session: Session) -> Session:
    load_sample(session)
    return session


def _mapping_file() -> dict[str, list[str]]:
    return {
        row["control_id"]: [n for n in map(rule_name_of, row["config_rules"]) if n]
        for row in read_csv(sample_file(MAPPINGS_CSV))
    }


def test_controls_by_requirement_and_category_match_the_file(loaded: Session) -> None:
    rows = read_csv(sample_file(CONTROLS_CSV))
    repo = PciControlRepository(loaded)
    by_req = [r.control_id for r in repo.by_requirement("8")]
    assert by_req == sorted(
        r["control_id"] for r in rows if r["metadata"]["requirements_id"] == "8"
    )
    category = rows[0]["metadata"]["control_category"]
    expected = sorted(
        r["control_id"] for r in rows if r["metadata"]["control_category"] == category
    )
    assert [r.control_id for r in repo.by_category(category)] == expected
    assert len(repo.by_requirement("8", limit=2)) == 2


def test_metadata_contains_uses_jsonb_containment(loaded: Session) -> None:
    rows = read_csv(sample_file(CONTROLS_CSV))
    mapped = PciControlRepository(loaded).metadata_contains({"aws_config_mapped": True})
    assert {r.control_id for r in mapped} == {
        r["control_id"] for r in rows if r["metadata"]["aws_config_mapped"] is True
    }
    assert PciControlRepository(loaded).metadata_contains({"requirements_id": "no such"}) == []


def test_control_search_ranks_matches_and_highlights_them(loaded: Session) -> None:
    repo = PciControlRepository(loaded)
    hits = repo.search("password", limit=5)
    assert 0 < len(hits) <= 5
    assert [h.rank for h in hits] == sorted((h.rank for h in hits), reverse=True)
    assert all("password" in (h.record.chunk + (h.record.requirement or "")).lower() for h in hits)
    marked = re.compile(f"{HIGHLIGHT_START}passwords?{HIGHLIGHT_STOP}")
    assert all(marked.search(h.snippet.lower()) for h in hits), [h.snippet for h in hits]
    assert repo.search_by_content("password", limit=5) == hits
    assert repo.search("   ") == []
    assert repo.search("zzzxqqq") == []
    with pytest.raises(UsageError):
        repo.search("password", limit=0)


def test_rule_lookups_and_search(loaded: Session) -> None:
    repo = AwsConfigRuleRepository(loaded)
    assert repo.get_by_rule_name("iam-user-unused-credentials-check").metadata_["control_ids"] == [
        "8.2.6"
    ]
    expected = sorted(
        r["config_rule"]
        for r in read_csv(sample_file(RULES_CSV))
        if "3.5.1" in r["metadata"].get("control_ids", [])
    )
    assert [r.config_rule for r in repo.for_control("3.5.1")] == expected and len(expected) == 3
    hits = repo.search("certificate expiration", limit=3)
    assert hits[0].record.config_rule == "acm-certificate-expiration-check"


def test_rules_for_control_follow_the_mapping_file(loaded: Session) -> None:
    repo = PciAwsConfigMappingRepository(loaded)
    for control_id, names in _mapping_file().items():
        assert [m.rule for m in repo.rules_for_control(control_id)] == list(dict.fromkeys(names))
    assert repo.rules_for_control("0.0") == []


def test_rules_for_control_can_join_guidance(loaded: Session) -> None:
    rules = PciAwsConfigMappingRepository(loaded).rules_for_control("8.2.6", with_guidance=True)
    guided = {m.rule: m.guidance for m in rules}
    assert guided["iam-user-unused-credentials-check"] is not None
    assert guided["iam-user-unused-credentials-check"].config_rule == (
        "iam-user-unused-credentials-check"
    )


def test_controls_for_rule_agrees_with_the_mapping_file(loaded: Session) -> None:
    reverse: dict[str, set[str]] = defaultdict(set)
    for control_id, names in _mapping_file().items():
        for name in names:
            reverse[name].add(control_id)
    repo = PciAwsConfigMappingRepository(loaded)
    for rule, controls in reverse.items():
        assert repo.controls_for_rule(rule) == sorted(controls), rule
    assert repo.controls_for_rule("no-such-rule") == []


def test_controls_for_rule_finds_every_entry_spelling(loaded: Session) -> None:
    repo = PciAwsConfigMappingRepository(loaded)
    repo.upsert_many(
        [
            PciAwsConfigMapping(control_id="90.1", config_rules=["spelled-rule"]),
            PciAwsConfigMapping(control_id="90.2", config_rules=[{"rule": "spelled-rule"}]),
            PciAwsConfigMapping(control_id="90.3", config_rules=[{"rule_name": "spelled-rule"}]),
            PciAwsConfigMapping(control_id="90.4", config_rules=["other", {"rule": "x"}]),
        ]
    )
    assert repo.controls_for_rule("spelled-rule") == ["90.1", "90.2", "90.3"]
    assert [m.rule for m in repo.rules_for_control("90.4")] == ["other", "x"]


def test_coverage_reports_gaps_in_both_directions(loaded: Session) -> None:
    repo = PciAwsConfigMappingRepository(loaded)
    before = repo.coverage()
    mapped = _mapping_file()
    assert before.controls_total == CONTROLS and before.rules_total == RULES
    assert before.controls_with_rules == len(mapped)
    assert len(before.controls_without_rules) == CONTROLS - len(mapped)
    assert before.mappings_without_control == [] and before.rules_missing_guidance == []
    assert 0 < before.control_ratio < 1
    repo.upsert_many([{"control_id": "77.7", "config_rules": ["ghost-rule", "restricted-ssh"]}])
    after = repo.coverage()
    assert after.mappings_without_control == ["77.7"]
    assert after.rules_missing_guidance == ["ghost-rule"]


def test_stats_report_rows_sizes_and_coverage(loaded: Session) -> None:
    stats = database_stats(loaded)
    by_table = {t.table: t for t in stats.tables}
    assert by_table["pci_dss_controls"].rows == CONTROLS
    assert by_table["pci_aws_config_rule_mappings"].rows == MAPPINGS
    assert by_table["pci_dss_controls"].index_bytes > 0
    assert by_table["pci_dss_controls"].total_bytes >= by_table["pci_dss_controls"].table_bytes
    assert stats.coverage.controls_with_rules == MAPPINGS


def test_table_names_resolve_or_fail_listing_the_valid_ones() -> None:
    assert resolve_tables("controls") == ("pci_dss_controls",)
    assert len(resolve_tables("all")) == 3
    with pytest.raises(UsageError, match="valid names: pci_dss_controls"):
        resolve_tables("users; drop table x")


def test_clear_tables_deletes_and_counts(loaded: Session) -> None:
    tables = resolve_tables("all")
    assert clear_tables(loaded, tables)["pci_dss_controls"] == CONTROLS
    assert set(count_rows(loaded, tables).values()) == {0}
