"""Planning a rollback (nothing is changed): what each kind of target removes, and what it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import ConnectionFailedError, MigrationError, UsageError
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from sentinel_db.schema.rollback import _creator, _rows_lost, plan_rollback, run_rollback

LABELS = {
    "pci_dss_controls": "pci_dss_controls",
    "aws_config_rules_guidance": "aws_config_rules_guidance",
    "pci_aws_config_rule_mappings": "pci_aws_config_rule_mappings",
    "import_runs": "bookkeeping",  # the bookkeeping branch creates it
}


def _applied(db: Database) -> set[str]:
    return set(migrations.ancestors(migrations.status(db.engine).heads))


@pytest.mark.parametrize("table", ALL_TABLES)
def test_a_table_plan_downgrades_its_own_branch_to_base_and_counts_its_rows(
    db: Database, table: str
) -> None:
    plan = plan_rollback(db.engine, tables=[table])
    creator = _creator(table).revision
    assert plan.by_table and plan.branches == [(f"{LABELS[table]}@base", creator)]
    assert plan.target == f"{LABELS[table]}@base"
    removed = [r.revision for r in plan.revisions]
    assert creator in removed and migrations.head() in removed  # the merges after it too
    # Only this table is created by what is undone, and what is undone was applied.
    assert {t for r in plan.revisions for t in r.creates_tables} == {table}
    assert set(removed) <= _applied(db) and len(removed) == len(set(removed))
    assert list(plan.rows_lost) == [table] and plan.rows_lost[table] >= 0


def test_two_tables_plan_both_branches_and_no_more_than_each_alone(db: Database) -> None:
    tables = ["pci_dss_controls", "pci_aws_config_rule_mappings"]
    both = plan_rollback(db.engine, tables=tables)
    alone = [plan_rollback(db.engine, tables=[t]) for t in tables]
    assert both.target == "pci_dss_controls@base, pci_aws_config_rule_mappings@base"
    assert {r.revision for r in both.revisions} == {
        r.revision for plan in alone for r in plan.revisions
    }
    assert sorted(both.rows_lost) == sorted(tables)


def test_a_revision_target_keeps_its_ancestors_and_base_removes_everything(db: Database) -> None:
    applied = _applied(db)
    merge = plan_rollback(db.engine, to="0007")
    assert not merge.by_table and merge.target == "0007"
    kept = set(migrations.ancestors(("0007",)))
    assert {r.revision for r in merge.revisions} == applied - kept
    everything = plan_rollback(db.engine, to="base")
    assert {r.revision for r in everything.revisions} == applied
    assert sorted(everything.rows_lost) == sorted(ALL_TABLES)


def test_vectors_not_applied_plan_and_run_nothing(db: Database) -> None:
    plan = plan_rollback(db.engine, to="vectors@base")
    assert (plan.target, plan.revisions, plan.rows_lost, plan.by_table) == (
        "vectors@base",
        [],
        {},
        False,
    )
    before = migrations.status(db.engine)
    assert run_rollback(db.engine, plan).heads == before.heads


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give either table names or --to REV"),
        ({"tables": ["pci_dss_controls"], "to": "base"}, "give either table names or --to REV"),
        (
            {"tables": ["pci_dss_controls", "nope", "users"]},
            "unknown table nope, users; sentinel-db's tables are: "
            "pci_dss_controls, aws_config_rules_guidance, pci_aws_config_rule_mappings, "
            "import_runs",
        ),
    ],
)
def test_a_plan_without_one_clear_target_is_a_usage_error(
    db: Database, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        plan_rollback(db.engine, **kwargs)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_an_unknown_revision_or_table_creator_is_named(db: Database) -> None:
    with pytest.raises(UsageError, match="cannot roll back to nope"):
        plan_rollback(db.engine, to="nope")
    with pytest.raises(MigrationError) as caught:
        _creator("nope")
    assert caught.value.message == "no revision creates nope"


def test_running_a_revision_plan_leaves_the_database_at_that_revision(fresh_database: URL) -> None:
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    try:
        migrations.upgrade(engine)
        status = run_rollback(engine, plan_rollback(engine, to="0007"))
        assert status.heads == ("0007",) and not status.up_to_date
        assert migrations.upgrade(engine).up_to_date
    finally:
        engine.dispose()


def test_losing_the_server_while_counting_the_rows_at_stake_says_so() -> None:
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/postgres")
    lost = [migrations.RevisionInfo("0001", "controls", ("pci_dss_controls",))]
    with pytest.raises(ConnectionFailedError) as caught:
        _rows_lost(unreachable, lost)
    assert caught.value.message.startswith("count rows: ")
