"""The `data` commands against the test database holding the bundled sample, results checked
through the repositories."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel_db import PciAwsConfigMappingRepository, PciControlRepository
from sentinel_db.importers import import_directory
from sentinel_db.records.tables import resolve_tables
from sentinel_db.repositories.stats import count_rows
from sentinel_db.repositories.tables import repository_for
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.conftest import truncate_all
from tests.data_helpers import (
    CONTROLS_CSV,
    MAPPINGS_CSV,
    RULES_CSV,
    SAMPLE_DIR,
    read_csv,
    sample_count,
    sample_file,
)

Capsys = pytest.CaptureFixture[str]
CONTROLS, RULES, MAPPINGS = (sample_count(n) for n in (CONTROLS_CSV, RULES_CSV, MAPPINGS_CSV))


@pytest.fixture
def loaded_db(clean_db: Database, cli_env: dict[str, Any]) -> Iterator[Database]:
    report = import_directory(clean_db, SAMPLE_DIR)
    assert report.exit_code == 0
    yield clean_db


@pytest.fixture
def shared_db(db: Database, cli_env: dict[str, Any]) -> Database:
    """The sample data for tests that only read: imported once, again only when changed."""
    counts = _counts(db)
    if [counts[t] for t in resolve_tables("all")] != [CONTROLS, RULES, MAPPINGS]:
        truncate_all(db)
        assert import_directory(db, SAMPLE_DIR).exit_code == 0
    return db


def _snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.unit_of_work(read_only=True) as session:
        return {t: list(repository_for(session, t).iter_rows()) for t in resolve_tables("all")}


def _counts(db: Database) -> dict[str, int]:
    with db.unit_of_work(read_only=True) as session:
        return count_rows(session)


def test_list_json_parses_and_carries_whole_records(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "list", "controls", "--limit", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["control_id"] for r in rows] == ["1.2.1", "1.2.5", "1.3.1"]
    assert rows[0]["metadata"]["requirements_id"] == "1"


def test_list_table_and_offset(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "list", "all", "--limit", "2", "--offset", "1")
    assert result.exit_code == 0, result.output
    assert "1.2.5" in result.stdout and "pci_aws_config_rule_mappings" in result.stdout
    assert "1.2.1" not in result.stdout.split("pci_aws_config_rule_mappings")[0]


@pytest.mark.parametrize(
    "args",
    [
        ("data", "list", "users"),
        ("data", "clear", "pci_dss_controls;drop", "--yes"),
        ("data", "export", "nope", "--out", "x"),
    ],
)
def test_unknown_table_names_fail_cleanly(
    shared_db: Database, capsys: Capsys, args: tuple[str, ...]
) -> None:
    result = run_cli(capsys, *args)
    assert result.exit_code == 2
    assert "valid names: pci_dss_controls" in result.stderr
    assert "Traceback" not in result.output
    assert _counts(shared_db)["pci_dss_controls"] == CONTROLS


def test_show_control_lists_its_rules_with_guidance(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "show", "control", "8.3.9", "--format", "json")
    assert result.exit_code == 0, result.output
    detail = json.loads(result.stdout)
    assert detail["control"]["control_id"] == "8.3.9"
    rules = {r["rule"]: r["guidance"] for r in detail["rules"]}
    assert list(rules) == ["iam-password-policy", "iam-root-access-key-check"]
    assert rules["iam-root-access-key-check"]["config_rule"] == "iam-root-access-key-check"
    text = run_cli(capsys, "data", "show", "control", "8.3.9")
    assert "iam-root-access-key-check" in text.stdout


def test_show_rule_lists_its_controls(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "show", "rule", "iam-password-policy")
    assert result.exit_code == 0, result.output
    assert "8.3.6" in result.stdout and "8.3.9" in result.stdout
    missing = run_cli(capsys, "data", "show", "rule", "no-such-rule")
    assert missing.exit_code == 1 and "no-such-rule" in missing.stderr
    assert "Traceback" not in missing.output


def test_search_prints_ranked_highlighted_matches(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(
        capsys,
        "data",
        "search",
        "which rules check that root has MFA?",
        "--limit",
        "2",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    controls, rules = body["results"]
    assert controls["table"] == "pci_dss_controls" and controls["shown"] == 2
    assert controls["hits"][0]["key"] == "8.4.2"  # the MFA control
    assert controls["matched"] >= controls["shown"] and controls["exact"] is True
    hits = controls["hits"]
    assert all("«" in h["snippet"] for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    mapped = [r for h in hits for r in h["rules"]]
    assert mapped and all(r["guidance"]["config_rule"] == r["rule"] for r in mapped)
    assert rules["hits"][0]["key"] == "root-account-mfa-enabled"
    table = run_cli(capsys, "data", "search", "encryption", "--table", "rules")
    assert table.exit_code == 0 and "rules:" in table.stdout and "matched" in table.stdout
    empty = run_cli(capsys, "data", "search", "zebra quokka", "--table", "controls")
    assert empty.exit_code == 0 and "no control matches any of: zebra, quokka" in empty.output


def test_clear_asks_and_keeps_rows_when_refused(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "clear", "all", input="n\n")
    assert result.exit_code == 1
    assert f"pci_dss_controls: {CONTROLS} row(s)" in result.stderr
    assert _counts(shared_db)["pci_dss_controls"] == CONTROLS


def test_clear_deletes_after_yes_or_confirmation(loaded_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "clear", "mappings", input="y\n")
    assert result.exit_code == 0, result.output
    assert _counts(loaded_db)["pci_aws_config_rule_mappings"] == 0
    assert run_cli(capsys, "data", "clear", "all", "--yes").exit_code == 0
    counts = _counts(loaded_db)
    assert [counts[t] for t in resolve_tables("all")] == [0, 0, 0]
    assert counts["import_runs"] == 3  # history is kept


def test_stats_json_reports_rows_and_coverage(shared_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "stats", "--format", "json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    rows = {t["table"]: t["rows"] for t in stats["tables"]}
    assert rows["pci_dss_controls"] == CONTROLS and rows["aws_config_rules_guidance"] == RULES
    assert stats["coverage"]["controls_with_rules"] == MAPPINGS
    text = run_cli(capsys, "stats")
    assert text.exit_code == 0 and f"{MAPPINGS}/{CONTROLS}" in text.stdout


def test_export_writes_the_import_format(
    shared_db: Database, capsys: Capsys, tmp_path: Path
) -> None:
    result = run_cli(capsys, "data", "export", "all", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    for name in ("pci_dss_controls", "aws_config_rules_guidance", "pci_aws_config_rule_mapping"):
        exported = tmp_path / "out" / f"{name}.csv"
        with exported.open(encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == next(
                csv.reader(sample_file(f"{name}.csv").open(encoding="utf-8"))
            )
        original = sorted(read_csv(sample_file(f"{name}.csv")), key=lambda r: r["id"])
        assert sorted(read_csv(exported), key=lambda r: r["id"]) == original


def test_export_json_is_a_list_of_records(
    shared_db: Database, capsys: Capsys, tmp_path: Path
) -> None:
    result = run_cli(
        capsys, "data", "export", "mappings", "--out", str(tmp_path), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "pci_aws_config_rule_mapping.json").read_text("utf-8"))
    assert len(records) == MAPPINGS and set(records[0]) == {"id", "control_id", "config_rules"}
    with shared_db.unit_of_work(read_only=True) as session:
        assert PciControlRepository(session).count() == CONTROLS


def test_export_then_import_into_an_empty_database_reproduces_every_row(
    loaded_db: Database, capsys: Capsys, tmp_path: Path
) -> None:
    before = _snapshot(loaded_db)
    assert run_cli(capsys, "data", "export", "all", "--out", str(tmp_path / "x")).exit_code == 0
    truncate_all(loaded_db)
    assert import_directory(loaded_db, tmp_path / "x").exit_code == 0
    assert _snapshot(loaded_db) == before


def test_seed_loads_the_bundled_sample_and_is_idempotent(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys
) -> None:
    first = run_cli(capsys, "data", "seed")
    assert first.exit_code == 0, first.output
    counts = _counts(clean_db)
    assert counts["pci_dss_controls"] > 20 and counts["pci_aws_config_rule_mappings"] > 10
    assert run_cli(capsys, "data", "seed").exit_code == 0
    assert _counts(clean_db) | {"import_runs": 0} == counts | {"import_runs": 0}
    with clean_db.unit_of_work(read_only=True) as session:
        coverage = PciAwsConfigMappingRepository(session).coverage()
    assert coverage.mappings_without_control == [] and coverage.rules_missing_guidance == []
