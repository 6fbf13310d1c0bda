"""Each benchmarked query can use its index: EXPLAIN of the exact SQL the repository sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from sentinel_db import AwsConfigRuleRepository, PciAwsConfigMappingRepository, PciControlRepository
from tests.data_helpers import load_sample


def _plans(session: Session, call: Callable[[], Any]) -> list[str]:
    """Run ``call`` and return the EXPLAIN output of every statement it executed."""
    conn = session.connection()
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, params))

    event.listen(conn, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(conn, "before_cursor_execute", capture)
    return [
        "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
        for sql, params in seen
    ]


@pytest.fixture
def no_seqscan(session: Session) -> Session:
    load_sample(session)
    session.execute(
        text("ANALYZE pci_dss_controls, aws_config_rules_guidance, pci_aws_config_rule_mappings")
    )
    # With plain index scans off too, an ordered scan of the key index cannot stand in for
    # the index under test; whatever index is left in the plan is the one serving the filter.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_indexscan = off"))
    return session


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            lambda s: PciControlRepository(s).get_by_control_id("8.2.6"),
            "uq_pci_dss_controls_control_id",
        ),
        (
            lambda s: PciControlRepository(s).by_requirement("8"),
            "ix_pci_dss_controls_requirements_id",
        ),
        (
            lambda s: PciControlRepository(s).by_category("x"),
            "ix_pci_dss_controls_control_category",
        ),
        (
            lambda s: PciControlRepository(s).metadata_contains({"requirements_id": "8"}),
            "ix_pci_dss_controls_metadata",
        ),
    ],
    ids=[
        "control-by-id",
        "by-requirement",
        "by-category",
        "metadata-contains",
    ],
)
def test_query_can_use_its_index(
    no_seqscan: Session, query: Callable[[Session], Any], index: str
) -> None:
    plans = _plans(no_seqscan, lambda: query(no_seqscan))
    assert len(plans) == 1
    assert index in plans[0], plans[0]
    assert "Seq Scan" not in plans[0], plans[0]


@pytest.mark.parametrize(
    ("query", "table"),
    [
        (
            lambda s: PciControlRepository(s).search("how often are passwords changed?"),
            "pci_dss_controls",
        ),
        (
            lambda s: AwsConfigRuleRepository(s).search("encrypted S3 buckets"),
            "aws_config_rules_guidance",
        ),
    ],
    ids=["control-search", "rule-search"],
)
def test_search_reads_term_statistics_by_key_and_gathers_rows_through_its_index(
    no_seqscan: Session, query: Callable[[Session], Any], table: str
) -> None:
    query(no_seqscan)  # the glossary is stemmed once per process, not per query
    *term_plans, rank_plan = _plans(no_seqscan, lambda: query(no_seqscan))
    terms_plan = "\n".join(term_plans)
    assert f"ix_{table}_search_terms_term" in terms_plan, terms_plan
    assert f"Bitmap Index Scan on ix_{table}_search_vector" in rank_plan, rank_plan
    assert f"Seq Scan on {table} " not in rank_plan, rank_plan
    assert f"Seq Scan on {table}_search_terms " not in terms_plan, terms_plan


def test_rules_naming_a_control_can_use_the_metadata_index(no_seqscan: Session) -> None:
    plans = _plans(no_seqscan, lambda: AwsConfigRuleRepository(no_seqscan).for_control("3.5.1"))
    assert len(plans) == 1
    assert "Bitmap Index Scan on ix_aws_config_rules_guidance_metadata" in plans[0], plans[0]


def test_controls_for_rule_is_a_bitmap_or_of_gin_scans(no_seqscan: Session) -> None:
    plans = _plans(
        no_seqscan, lambda: PciAwsConfigMappingRepository(no_seqscan).controls_for_rule("x")
    )
    assert len(plans) == 1
    plan = plans[0]
    assert "BitmapOr" in plan, plan
    assert plan.count("Bitmap Index Scan on ix_pci_aws_config_rule_mappings_config_rules") == 3
    assert "Seq Scan" not in plan
