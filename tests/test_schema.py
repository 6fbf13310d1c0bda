"""The Alembic revisions create exactly the schema the models describe, and remove it again."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import MigrationError
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations

EXPECTED_INDEXES = {
    ("pci_dss_controls", "ix_pci_dss_controls_metadata"): "gin",
    ("pci_dss_controls", "ix_pci_dss_controls_control_category"): "btree",
    ("pci_dss_controls", "ix_pci_dss_controls_requirements_id"): "btree",
    ("pci_dss_controls", "ix_pci_dss_controls_search_vector"): "gin",
    ("pci_dss_controls", "uq_pci_dss_controls_control_id"): "btree",
    ("pci_dss_controls", "pk_pci_dss_controls"): "btree",
    ("aws_config_rules_guidance", "ix_aws_config_rules_guidance_metadata"): "gin",
    ("aws_config_rules_guidance", "ix_aws_config_rules_guidance_search_vector"): "gin",
    ("aws_config_rules_guidance", "uq_aws_config_rules_guidance_config_rule"): "btree",
    ("aws_config_rules_guidance", "pk_aws_config_rules_guidance"): "btree",
    ("pci_aws_config_rule_mappings", "ix_pci_aws_config_rule_mappings_config_rules"): "gin",
    ("pci_aws_config_rule_mappings", "uq_pci_aws_config_rule_mappings_control_id"): "btree",
    ("pci_aws_config_rule_mappings", "pk_pci_aws_config_rule_mappings"): "btree",
}

_INDEXES_SQL = text(
    """
    SELECT t.relname, i.relname, am.amname
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_am am ON am.oid = i.relam
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema()
      AND t.relname IN ('pci_dss_controls', 'aws_config_rules_guidance', 'pci_aws_config_rule_mappings')
    """
)


def test_upgrade_head_creates_tables_constraints_and_every_index(db: Database) -> None:
    with db.engine.connect() as conn:
        found = {(t, i): am for t, i, am in conn.execute(_INDEXES_SQL)}
    assert found == EXPECTED_INDEXES


def test_migrated_database_shows_no_drift(db: Database) -> None:
    assert migrations.drift(db.engine) == []


def test_downgrade_base_removes_tables_and_upgrade_restores_them(fresh_database: URL) -> None:
    db = Database.from_url(fresh_database, load_settings(None))
    migrations.upgrade(db.engine)
    assert all(migrations.existing_tables(db.engine).values())
    migrations.downgrade(db.engine, "base")
    assert not any(migrations.existing_tables(db.engine).values())
    assert migrations.status(db.engine).current is None


def test_jsonb_gin_indexes_use_the_containment_operator_class(db: Database) -> None:
    # Alembic's drift check does not compare operator classes, so the catalog is read directly.
    with db.engine.connect() as conn:
        found = dict(
            conn.execute(
                text(
                    "SELECT i.relname, opc.opcname FROM pg_index x"
                    " JOIN pg_class i ON i.oid = x.indexrelid"
                    " JOIN pg_opclass opc ON opc.oid = x.indclass[0]"
                    " WHERE i.relname = ANY(:names)"
                ),
                {
                    "names": [
                        "ix_pci_dss_controls_metadata",
                        "ix_aws_config_rules_guidance_metadata",
                        "ix_pci_aws_config_rule_mappings_config_rules",
                    ]
                },
            ).all()
        )
    assert set(found.values()) == {"jsonb_path_ops"} and len(found) == 3


def test_every_merge_lists_only_branch_tips() -> None:
    """A merge naming a revision that another of its parents descends from breaks Alembic's
    version bookkeeping; the history must never hold one (ARCHITECTURE.md)."""
    scripts = migrations.make_script_directory()

    def below(revision: str) -> set[str]:
        found, todo = set(), [revision]
        while todo:
            down = scripts.get_revision(todo.pop()).down_revision  # type: ignore[union-attr]
            for parent in (down,) if isinstance(down, str) else down or ():
                if parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return found

    for script in scripts.walk_revisions():
        parents = script.down_revision
        if isinstance(parents, tuple):
            for parent in parents:
                assert not any(parent in below(other) for other in parents), (
                    script.revision,
                    parent,
                )


def test_each_history_has_one_head_and_the_vectors_one_stands_alone() -> None:
    """`alembic upgrade head` needs one head: the optional vectors tables are a history of
    their own, sharing no revision with the core one."""
    core = migrations.make_script_directory()
    vectors = migrations.make_script_directory("vectors")
    assert core.get_heads() == [migrations.head()]
    assert vectors.get_heads() == [migrations.head("vectors")]
    core_ids = {s.revision for s in core.walk_revisions()}
    assert migrations.optional_revisions() == {s.revision for s in vectors.walk_revisions()}
    assert not core_ids & migrations.optional_revisions()
    for script in vectors.walk_revisions():
        assert not script.dependencies


def test_a_history_name_that_is_neither_is_refused_not_read_as_the_vectors_one() -> None:
    for name in ("graphs", None):
        with pytest.raises(MigrationError, match="no migration history is called"):
            migrations.make_script_directory(name)  # type: ignore[arg-type]
