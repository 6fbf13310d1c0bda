"""The staging table's own promises: the server phases it reports, an upsert with nobody
listening, and issues read back through a server-side cursor rather than all at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from sentinel_db.importers import ProgressEvent, import_file
from sentinel_db.importers.load import Counts, Stage
from sentinel_db.importers.report import (
    PHASE_CHECKS,
    PHASE_COMMIT,
    PHASE_INSERT,
    PHASE_LOCK,
    PHASE_UPDATE,
)
from sentinel_db.importers.tables import table_spec
from sentinel_db.runtime.db import Database

HEADER = "id,control_id,requirement,chunk,metadata"
META = '"{""requirements_id"": ""1""}"'


@contextmanager
def _stage(db: Database) -> Iterator[tuple[psycopg.Connection[Any], Stage]]:
    """A created staging table for controls, in a transaction rolled back afterwards."""
    with db.engine.connect() as sa_conn:
        conn = sa_conn.connection.driver_connection
        assert isinstance(conn, psycopg.Connection)
        try:
            stage = Stage(conn, table_spec("pci_dss_controls"), 0)
            stage.create()
            yield conn, stage
        finally:
            conn.rollback()


def _fill(stage: Stage, conn: psycopg.Connection[Any], rows: list[tuple[str, str]]) -> None:
    """COPY ``(control_id, chunk)`` rows into staging, numbered from line 2 like a file."""
    with conn.cursor() as cur, cur.copy(stage.copy_statement()) as copy:
        for line, (key, chunk) in enumerate(rows, start=2):
            copy.write_row((line, None, key, "R", chunk, '{"requirements_id": "1"}'))


def _phases(db: Database, path: Path) -> list[str | None]:
    seen: list[str | None] = []

    def listen(event: ProgressEvent) -> None:
        if event.stage == "phase":
            seen.append(event.phase)

    import_file(db, path, "pci_dss_controls", progress=listen)
    return seen


def test_an_import_into_an_empty_table_has_no_update_phase_and_a_later_one_has(
    clean_db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "pci_dss_controls.csv"
    path.write_text(f"{HEADER}\n,1.1,R,a,{META}\n", encoding="utf-8")
    assert _phases(clean_db, path) == [PHASE_LOCK, PHASE_CHECKS, PHASE_INSERT, PHASE_COMMIT]
    path.write_text(f"{HEADER}\n,1.1,R,changed,{META}\n", encoding="utf-8")
    assert _phases(clean_db, path) == [
        PHASE_LOCK,
        PHASE_CHECKS,
        PHASE_UPDATE,
        PHASE_INSERT,
        PHASE_COMMIT,
    ]


def test_an_upsert_without_a_phase_listener_still_counts_every_row(clean_db: Database) -> None:
    with _stage(clean_db) as (conn, stage):
        _fill(stage, conn, [("1.1", "a"), ("1.2", "b")])
        assert stage.upsert() == Counts(inserted=2, updated=0, unchanged=0)
        again = Stage(conn, table_spec("pci_dss_controls"), 1)
        again.create()
        _fill(again, conn, [("1.1", "a"), ("1.2", "changed"), ("1.3", "c")])
        assert again.upsert() == Counts(inserted=1, updated=1, unchanged=1)


def test_issues_are_read_through_a_server_side_cursor(clean_db: Database) -> None:
    with _stage(clean_db) as (conn, stage):
        _fill(stage, conn, [("1.1", "a"), ("1.1", "a"), ("1.1", "b")])
        stage.check_duplicates(has_ids=False)
        issues = stage.issues_found()
        first = next(issues)
        # Mid-read, the rest is still on the server: the cursor is open there.
        open_cursors = conn.execute("SELECT count(*) FROM pg_cursors").fetchone()
        assert open_cursors is not None and open_cursors[0] == 1
        found = [first, *issues]
        assert [(i.line, i.column, i.severity) for i in found] == [
            (3, "control_id", "duplicate"),
            (4, "control_id", "error"),
        ]
        differs = "duplicate control_id '1.1': differs from line 2 (the first is kept)"
        assert found[1].reason == differs
