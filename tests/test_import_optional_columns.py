"""Columns a file may leave out or leave blank, with and without per-row validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from sentinel_db.importers import ImportOptions, import_file
from sentinel_db.runtime.db import Database


@pytest.mark.parametrize("validate", [True, False], ids=["validated", "not-validated"])
def test_a_file_without_the_optional_id_column_imports(
    clean_db: Database, tmp_path: Path, validate: bool
) -> None:
    path = tmp_path / "aws_config_rules_guidance.csv"
    path.write_text(
        'config_rule,chunk,metadata\nr-one-check,Checks one thing.,"{}"\n', encoding="utf-8"
    )
    report = import_file(
        clean_db, path, "aws_config_rules_guidance", options=ImportOptions(validate=validate)
    )
    assert (report.status, report.inserted, report.rejected) == ("succeeded", 1, 0), report.error
    with clean_db.engine.connect() as conn:
        row = conn.execute(text("SELECT config_rule, chunk FROM aws_config_rules_guidance")).one()
    assert tuple(row) == ("r-one-check", "Checks one thing.")


def test_without_validation_a_blank_requirement_and_id_are_stored_as_missing(
    clean_db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "pci_dss_controls.csv"
    path.write_text("id,control_id,requirement,chunk,metadata\n  ,1.1,  ,text,{}\n", "utf-8")
    report = import_file(clean_db, path, "pci_dss_controls", options=ImportOptions(validate=False))
    assert (report.inserted, report.rejected) == (1, 0), report.error
    with clean_db.engine.connect() as conn:
        row = conn.execute(text("SELECT id IS NOT NULL, requirement FROM pci_dss_controls")).one()
    assert tuple(row) == (True, None)


def test_a_row_with_the_wrong_number_of_fields_is_rejected_for_the_whole_row(
    clean_db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "pci_dss_controls.csv"
    path.write_text("control_id,requirement,chunk,metadata\n1.1,R,text\n1.2,R,t,{}\n", "utf-8")
    report = import_file(clean_db, path, "pci_dss_controls")
    assert (report.inserted, report.rejected) == (1, 1)
    problem = report.errors[0]
    assert (problem.line, problem.column, problem.reason) == (2, "", "expected 4 fields, found 3")
