"""The import commands: exit codes, messages, JSON reports, no tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli, run_subprocess
from tests.conftest import EXAMPLES
from tests.data_helpers import CONTROLS_CSV, MAPPINGS_CSV, RULES_CSV, SAMPLE_DIR, sample_count


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_import_prints_a_report_and_json_parses(
    capsys: pytest.CaptureFixture[str],
    cli_env: dict[str, Any],
    clean_db: Database,
) -> None:
    result = run_cli(capsys, "import", str(SAMPLE_DIR), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"]["inserted"] == sum(
        sample_count(n) for n in (CONTROLS_CSV, RULES_CSV, MAPPINGS_CSV)
    )
    assert [f["status"] for f in report["files"]] == ["succeeded"] * 3
    again = run_cli(capsys, "import", str(SAMPLE_DIR), "--no-progress")
    assert again.exit_code == 0
    assert (
        "skipped" in again.stdout and "unchanged since the last successful import" in again.stdout
    )


def test_default_source_and_dry_run(
    capsys: pytest.CaptureFixture[str], cli_env: dict[str, Any], clean_db: Database, tmp_path: Path
) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "shared_data" / "outputs")
    result = run_cli(capsys, "import", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written" in result.stdout
    assert _count(clean_db, "pci_dss_controls") == 0
    bulk = run_cli(capsys, "--quiet", "import-data", "bulk", "--source", "shared_data/outputs")
    assert bulk.exit_code == 0 and bulk.stderr == ""
    assert _count(clean_db, "pci_dss_controls") > 0


def test_rejected_rows_exit_4_with_file_line_column_reason(
    capsys: pytest.CaptureFixture[str], cli_env: dict[str, Any], clean_db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "controls.csv"
    path.write_text("control_id,chunk,metadata\n1.1,a,{}\nZ.9,b,{}\n", encoding="utf-8")
    result = run_cli(capsys, "import-data", "csv", str(path), "pci_dss_controls")
    assert result.exit_code == 4
    assert f"{path}:3: control_id: is not a PCI DSS control id" in result.stdout
    assert "rejected rows written to" in result.stdout
    assert "Traceback" not in result.output
    assert _count(clean_db, "pci_dss_controls") == 1


def test_unknown_table_and_missing_source_are_usage_errors(
    capsys: pytest.CaptureFixture[str], cli_env: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a\n", encoding="utf-8")
    result = run_cli(capsys, "import-data", "csv", str(path), "nope")
    assert result.exit_code == 2
    assert "valid tables: pci_dss_controls, aws_config_rules_guidance" in result.stderr
    missing = run_cli(capsys, "import", "no/such/folder")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_info_describes_a_source_without_importing(
    capsys: pytest.CaptureFixture[str], cli_env: dict[str, Any]
) -> None:
    result = run_cli(capsys, "import-data", "info", str(EXAMPLES))
    assert result.exit_code == 0
    assert "pci_dss_controls.csv -> pci_dss_controls" in result.stdout
    assert "database_schema.json: skipped" in result.stdout
    data = json.loads(
        run_cli(capsys, "import-data", "info", str(EXAMPLES), "--format", "json").stdout
    )
    assert {f["table"] for f in data["files"]} == {
        "pci_dss_controls",
        "aws_config_rules_guidance",
        "pci_aws_config_rule_mappings",
    }


def test_standalone_module_and_history_in_a_subprocess(
    cli_env: dict[str, Any], clean_db: Database, tmp_path: Path
) -> None:
    import subprocess
    import sys

    bad = tmp_path / "pci_dss_controls.csv"
    bad.write_bytes(b"control_id,chunk,metadata\n1.1,caf\xe9,{}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel_db.importers", "bulk", "--source", str(tmp_path)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr
    assert f"{bad}:2: bytes that are not valid utf-8" in proc.stdout
    assert "Traceback" not in proc.stderr
    history = run_subprocess("import-data", "history", "--format", "json", env=cli_env)
    assert history.exit_code == 0, history.stderr
    runs = json.loads(history.stdout)
    assert runs[0]["status"] == "failed" and runs[0]["table_name"] == "pci_dss_controls"


def test_unmigrated_database_says_to_migrate(
    capsys: pytest.CaptureFixture[str], cli_env: dict[str, Any], fresh_database: Any
) -> None:
    url = fresh_database.set(drivername="postgresql").render_as_string(hide_password=False)
    result = run_cli(capsys, "--database-url", url, "import", str(EXAMPLES))
    assert result.exit_code == 1
    assert "sentinel-db migrate" in result.stderr and "Traceback" not in result.output
