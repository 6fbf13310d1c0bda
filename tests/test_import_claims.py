"""What the import documentation promises: reject files in a folder are left alone, one
``--reject-file`` continues into ``PATH-2.csv``, two imports into one table queue on its lock,
and `data list --format csv` is a file the importer takes back."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from sentinel_db.importers import ImportOptions, import_directory, import_file
from sentinel_db.importers.report import PHASE_CHECKS, FileReport, ProgressEvent
from sentinel_db.repositories.tables import repository_for
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli

Capsys = pytest.CaptureFixture[str]
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "sentinel_db" / "sample_data"
CONTROLS_HEADER = "control_id,requirement,chunk,metadata\n"


def _keys(db: Database, table: str) -> list[str]:
    with db.unit_of_work(read_only=True) as session:
        repo = repository_for(session, table)
        return sorted(str(r[repo.key_name]) for r in repo.iter_rows())


def _folder_with_a_broken_control(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "pci_dss_controls.csv").write_text(
        CONTROLS_HEADER + '1.1,R,fine,{}\n2.2,R,broken,"{""a"": }"\n', encoding="utf-8"
    )
    return folder


def test_a_reject_file_inside_a_folder_is_skipped_not_imported(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    folder = _folder_with_a_broken_control(tmp_path)
    first = run_cli(capsys, "import", str(folder), "--no-progress")
    assert first.exit_code == 4, first.output
    rejects = folder / "pci_dss_controls.csv.rejects.csv"
    # The row moved out of the source into the reject file and fixed there, not yet imported
    # by name: a folder import must still leave the reject file alone.
    (folder / "pci_dss_controls.csv").write_text(CONTROLS_HEADER + "1.1,R,fine,{}\n", "utf-8")
    rejects.write_text(CONTROLS_HEADER + "2.2,R,fixed,{}\n", encoding="utf-8")
    again = run_cli(capsys, "import", str(folder), "--no-progress", "--force", "--format", "json")
    report = json.loads(again.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert "reject file" in skipped["pci_dss_controls.csv.rejects.csv"]
    assert "list of reasons" in skipped["pci_dss_controls.csv.rejects.errors.csv"]
    assert [Path(f["path"]).name for f in report["files"]] == ["pci_dss_controls.csv"]
    assert _keys(clean_db, "pci_dss_controls") == ["1.1"]
    # Named on its own, the fixed reject file is imported.
    by_name = run_cli(capsys, "import", str(rejects), "--no-progress")
    assert by_name.exit_code == 0, by_name.output
    assert _keys(clean_db, "pci_dss_controls") == ["1.1", "2.2"]


def test_one_reject_file_for_two_tables_continues_into_path_2(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    folder = _folder_with_a_broken_control(tmp_path)
    (folder / "aws_config_rules_guidance.csv").write_text(
        'config_rule,chunk,metadata\nr-one-check,fine,{}\nr-two-check,broken,"[1,"\n',
        encoding="utf-8",
    )
    target = tmp_path / "out" / "rejects.csv"
    target.parent.mkdir()
    result = run_cli(capsys, "import", str(folder), "--no-progress", "--reject-file", str(target))
    assert result.exit_code == 4, result.output
    second = target.with_name("rejects-2.csv")
    first_rows = list(csv.reader(target.open(encoding="utf-8", newline="")))
    second_rows = list(csv.reader(second.open(encoding="utf-8", newline="")))
    # Controls load first (their order), so the first file is theirs, with their header.
    assert first_rows[0] == ["control_id", "requirement", "chunk", "metadata"]
    assert [r[0] for r in first_rows[1:]] == ["2.2"]
    assert second_rows[0] == ["config_rule", "chunk", "metadata"]
    assert [r[0] for r in second_rows[1:]] == ["r-two-check"]
    for path, source in (
        (target, "pci_dss_controls.csv"),
        (second, "aws_config_rules_guidance.csv"),
    ):
        reasons = list(csv.DictReader(path.with_name(path.stem + ".errors.csv").open()))
        assert [(Path(r["file"]).name, r["line"], r["reject_row"]) for r in reasons] == [
            (source, "3", "1")
        ]
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "rejects-2.csv",
        "rejects-2.errors.csv",
        "rejects.csv",
        "rejects.errors.csv",
    ]


def _controls(path: Path, count: int, chunk: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["control_id", "requirement", "chunk", "metadata"])
        writer.writerows(
            [f"{1 + i // 100}.{i % 100}", "R", f"{chunk} {i}", "{}"] for i in range(count)
        )
    return path


_WAITING = """
SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'
  AND a.wait_event = 'advisory' AND l.locktype = 'advisory' AND NOT l.granted
  AND a.query LIKE 'SELECT pg_advisory_xact_lock(hashtextextended(%'
"""


def test_two_imports_into_one_table_queue_one_waits_for_the_others_lock(
    clean_db: Database, database_url_str: str, tmp_path: Path
) -> None:
    holding = threading.Event()
    release = threading.Event()

    def hold_after_lock(event: ProgressEvent) -> None:
        # The first phase after the lock: the import holds it until its transaction ends.
        if event.stage == "phase" and event.phase == PHASE_CHECKS and not holding.is_set():
            holding.set()
            assert release.wait(timeout=60), "the test never released the first import"

    reports: dict[str, FileReport] = {}
    first = threading.Thread(
        target=lambda: reports.update(
            a=import_file(
                clean_db,
                _controls(tmp_path / "a.csv", 300, "a"),
                "pci_dss_controls",
                progress=hold_after_lock,
            )
        )
    )
    second = threading.Thread(
        target=lambda: reports.update(
            b=import_file(clean_db, _controls(tmp_path / "b.csv", 300, "b"), "pci_dss_controls")
        )
    )
    first.start()
    try:
        assert holding.wait(timeout=60), "the first import never took the table lock"
        second.start()
        observed = 0
        with psycopg.connect(database_url_str, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while not observed and time.monotonic() < deadline:
                row = conn.execute(_WAITING).fetchone()
                observed = int(row[0]) if row else 0
                if not observed:
                    time.sleep(0.02)
        # Seen in the server's own lock table: the second import is blocked on the table's
        # advisory lock, which the first still holds.
        assert observed == 1
        assert second.is_alive()
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert reports["a"].status == reports["b"].status == "succeeded"
    assert (reports["a"].inserted, reports["b"].inserted, reports["b"].updated) == (300, 0, 300)
    with clean_db.unit_of_work(read_only=True) as session:
        chunks = session.execute(
            text("SELECT DISTINCT split_part(chunk, ' ', 1) FROM pci_dss_controls")
        ).scalars()
        assert sorted(chunks) == ["b"]  # the one that waited wrote last


def test_csv_from_data_list_reimports_through_the_importer(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    assert import_directory(clean_db, SAMPLE).exit_code == 0
    for name in ("controls", "rules", "mappings"):
        listed = run_cli(capsys, "data", "list", name, "--limit", "1000", "--format", "csv")
        assert listed.exit_code == 0, listed.output
        (tmp_path / f"{name}.csv").write_text(listed.stdout, encoding="utf-8")
    tables = {
        "controls": "pci_dss_controls",
        "rules": "aws_config_rules_guidance",
        "mappings": "pci_aws_config_rule_mappings",
    }
    before = {t: _rows(clean_db, t) for t in tables.values()}
    with clean_db.unit_of_work() as session:
        session.execute(text("TRUNCATE " + ", ".join(tables.values())))
    assert all(_rows(clean_db, t) == [] for t in tables.values())
    for name, table in tables.items():
        report = import_file(
            clean_db, tmp_path / f"{name}.csv", table, options=ImportOptions(force=True)
        )
        assert report.status == "succeeded" and report.rejected == 0, report.error
        assert report.inserted == len(before[table]) > 0
    # Read back from the database: every row as it was, ids included.
    assert {t: _rows(clean_db, t) for t in tables.values()} == before


def _rows(db: Database, table: str) -> list[dict[str, Any]]:
    with db.unit_of_work(read_only=True) as session:
        repo = repository_for(session, table)
        rows = [
            {k: v for k, v in r.items() if k not in ("created_at", "updated_at")}
            for r in repo.iter_rows()
        ]
    return sorted(rows, key=lambda r: str(r[repo.key_name]))
