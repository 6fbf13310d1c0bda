"""Importing real files: counts, idempotent re-import, dry runs, history, concurrency, faults."""

from __future__ import annotations

import csv
import shutil
import threading
import tracemalloc
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import text

from sentinel_db.importers import (
    ImportOptions,
    ProgressEvent,
    import_directory,
    import_file,
    list_runs,
)
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database
from tests.conftest import EXAMPLES
from tests.data_helpers import (
    CONTROLS_CSV,
    MAPPINGS_CSV,
    RULES_CSV,
    SAMPLE_DIR,
    sample_count,
    sample_file,
)

COUNTS = [sample_count(n) for n in (CONTROLS_CSV, RULES_CSV, MAPPINGS_CSV)]


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {sql_name(table)}")).scalar_one())


def _snapshot(db: Database, table: str) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


def test_shared_sample_data_imports_with_zero_rejects(
    clean_db: Database, shared_data: Path
) -> None:
    report = import_directory(clean_db, shared_data)
    counts = {f.table: (f.rows_read, f.inserted, f.rejected) for f in report.files}
    assert counts == {
        "pci_dss_controls": (268, 268, 0),
        "aws_config_rules_guidance": (68, 68, 0),
        "pci_aws_config_rule_mappings": (43, 43, 0),
    }
    assert [f.table for f in report.files][-1] == "pci_aws_config_rule_mappings"
    assert report.exit_code == 0 and report.total("warnings") == 0
    assert _count(clean_db, "pci_dss_controls") == 268
    assert any(path.endswith("README.md") for path, _ in report.skipped)


def test_reimporting_unchanged_file_writes_nothing(clean_db: Database) -> None:
    import_directory(clean_db, SAMPLE_DIR)
    before = _snapshot(clean_db, "pci_dss_controls")
    with clean_db.engine.connect() as conn:
        xmin_before = conn.execute(
            text("SELECT sum(xmin::text::bigint) FROM pci_dss_controls")
        ).scalar()
    forced = import_directory(clean_db, SAMPLE_DIR, options=ImportOptions(force=True))
    assert [(f.inserted, f.updated) for f in forced.files] == [(0, 0)] * 3
    assert [f.unchanged for f in forced.files] == COUNTS
    with clean_db.engine.connect() as conn:
        xmin_after = conn.execute(
            text("SELECT sum(xmin::text::bigint) FROM pci_dss_controls")
        ).scalar()
    assert xmin_after == xmin_before  # no row version was written
    assert _snapshot(clean_db, "pci_dss_controls") == before
    skipped = import_directory(clean_db, SAMPLE_DIR)
    assert [f.status for f in skipped.files] == ["skipped"] * 3


def test_one_changed_row_is_exactly_one_update_and_keeps_ids(
    clean_db: Database, tmp_path: Path
) -> None:
    source = tmp_path / "pci_dss_controls.csv"
    shutil.copy(sample_file(CONTROLS_CSV), source)
    import_file(clean_db, source, "pci_dss_controls")
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[5][3] = rows[5][3] + " (amended)"
    for row in rows[1:]:
        row[0] = ""  # ids absent: existing ids must be kept
    with source.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    ids_before = {r[1]: r[0] for r in _snapshot(clean_db, "pci_dss_controls")}
    report = import_file(clean_db, source, "pci_dss_controls")
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, COUNTS[0] - 1)
    assert {r[1]: r[0] for r in _snapshot(clean_db, "pci_dss_controls")} == ids_before


def test_examples_import_cleanly_and_skip_the_schema_json(clean_db: Database) -> None:
    report = import_directory(clean_db, EXAMPLES)
    assert report.exit_code == 0
    assert report.total("rejected") == 0 and report.total("warnings") == 0
    assert all(f.inserted == f.rows_read > 0 for f in report.files)
    assert any(p.endswith("database_schema.json") for p, _ in report.skipped)


def test_dry_run_reports_changes_and_writes_nothing(clean_db: Database) -> None:
    report = import_directory(clean_db, SAMPLE_DIR, options=ImportOptions(dry_run=True))
    assert [f.inserted for f in report.files] == COUNTS
    assert [f.status for f in report.files] == ["dry-run"] * 3
    assert report.total("warnings") == 0  # mappings were checked against this run's controls
    for table in ("pci_dss_controls", "pci_aws_config_rule_mappings", "import_runs"):
        assert _count(clean_db, table) == 0


def test_history_records_each_file(clean_db: Database) -> None:
    report = import_directory(clean_db, SAMPLE_DIR)
    runs = list_runs(clean_db)
    assert {r.run_id for r in runs} == {report.run_id}
    assert {(r.table_name, r.status, r.inserted) for r in runs} == {
        ("pci_dss_controls", "succeeded", COUNTS[0]),
        ("aws_config_rules_guidance", "succeeded", COUNTS[1]),
        ("pci_aws_config_rule_mappings", "succeeded", COUNTS[2]),
    }
    assert all(r.file_sha256 and len(r.file_sha256) == 64 and r.finished_at for r in runs)


def _controls_file(path: Path, count: int, *, chunk: str = "text", start: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["control_id", "requirement", "chunk", "metadata"])
        for i in range(start, start + count):
            writer.writerow(
                [f"{1 + i // 100000}.{i // 1000 % 100}.{i % 1000}", "R", f"{chunk} {i}", "{}"]
            )
    return path


def test_killed_connection_leaves_table_unchanged_and_run_failed(
    clean_db: Database, tmp_path: Path, database_url_str: str
) -> None:
    import_file(clean_db, sample_file(CONTROLS_CSV), "pci_dss_controls")
    before = _snapshot(clean_db, "pci_dss_controls")
    source = _controls_file(tmp_path / "pci_dss_controls.csv", 3000)

    def kill(event: ProgressEvent) -> None:
        if event.stage == "rows" and event.rows_read >= 1000:
            with psycopg.connect(database_url_str, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE 'COPY %sentinel_stage%'"
                )

    report = import_file(
        clean_db, source, "pci_dss_controls", options=ImportOptions(batch_size=500), progress=kill
    )
    assert report.status == "failed" and report.exit_code == 3
    assert "connection" in (report.error or "")
    assert _snapshot(clean_db, "pci_dss_controls") == before
    run = next(r for r in list_runs(clean_db) if r.source_path == str(source))
    assert run.status == "failed" and run.error
    again = import_file(clean_db, source, "pci_dss_controls")
    assert again.status == "succeeded" and again.inserted + again.updated + again.unchanged == 3000


def test_two_concurrent_imports_end_with_the_correct_rows(
    clean_db: Database, tmp_path: Path
) -> None:
    first = _controls_file(tmp_path / "a" / "pci_dss_controls.csv", 2000, chunk="a")
    second = _controls_file(tmp_path / "b" / "pci_dss_controls.csv", 2000, chunk="b", start=1000)
    reports = {}

    def run(name: str, path: Path) -> None:
        reports[name] = import_file(clean_db, path, "pci_dss_controls")

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.status == "succeeded" for r in reports.values())
    assert _count(clean_db, "pci_dss_controls") == 3000
    assert sum(r.inserted for r in reports.values()) == 3000
    assert sum(r.updated for r in reports.values()) == 1000  # the overlap, once, by the later one


def test_memory_stays_bounded_on_a_file_many_batches_long(
    clean_db: Database, tmp_path: Path
) -> None:
    small = _controls_file(tmp_path / "s" / "pci_dss_controls.csv", 1000, chunk="x" * 400)
    large = _controls_file(tmp_path / "l" / "pci_dss_controls.csv", 10000, chunk="x" * 400)
    peaks = []
    for path in (small, large):
        tracemalloc.start()
        report = import_file(
            clean_db, path, "pci_dss_controls", options=ImportOptions(batch_size=200)
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert report.rejected == 0
    # Ten times the rows (100 batches) must not need materially more memory.
    assert peaks[1] < peaks[0] * 1.5 + 512 * 1024, peaks
    assert peaks[1] < 8 * 1024 * 1024


def test_unknown_id_reused_for_another_key_is_rejected(clean_db: Database, tmp_path: Path) -> None:
    used = uuid.uuid4()
    path = tmp_path / "pci_dss_controls.csv"
    path.write_text(f"id,control_id,chunk,metadata\n{used},1.1,a,{{}}\n", encoding="utf-8")
    import_file(clean_db, path, "pci_dss_controls")
    path.write_text(f"id,control_id,chunk,metadata\n{used},1.2,b,{{}}\n", encoding="utf-8")
    report = import_file(clean_db, path, "pci_dss_controls")
    assert report.rejected == 1 and report.inserted == 0
    assert "already belongs to control_id '1.1'" in str(report.errors[0])
