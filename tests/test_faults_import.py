"""Faults during an import: killed connections, a crashing server, statement and lock timeouts.

Every case checks the same promise: the table holds exactly its rows from before the run (or the
complete new state), ``import_runs`` records the failure, and running the same import again
completes it. Everything runs on a throwaway server, which these tests crash and restart.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from sentinel_db.config import load_settings
from sentinel_db.errors import ExitCode
from sentinel_db.importers import (
    FileReport,
    ImportOptions,
    ProgressEvent,
    import_file,
    list_runs,
)
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.runtime.db import Database, create_db_engine
from sentinel_db.schema import migrations
from tests.pg_throwaway import ThrowawayServer

TABLE = "pci_dss_controls"
BATCH = 100
DATABASE = "faults"


def control_id(i: int) -> str:
    """A valid, unique PCI DSS control id for 0 <= i < 1200."""
    return f"{1 + i // 100}.{1 + i // 10 % 10}.{1 + i % 10}"


def write_controls(path: Path, rows: range, *, version: str) -> Path:
    """A controls CSV with one row per number in ``rows``; ``version`` changes the content."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["control_id", "requirement", "chunk", "metadata"])
        for i in rows:
            writer.writerow(
                [
                    control_id(i),
                    f"Requirement {1 + i // 100}",
                    f"Control text {i}, version {version}.",
                    json.dumps({"requirements_id": str(1 + i // 100), "version": version}),
                ]
            )
    return path


def snapshot(db: Database) -> list[str]:
    """Every row of the table, whole, in a stable order."""
    with db.engine.connect() as conn:
        return list(conn.execute(text(f"SELECT t::text FROM {TABLE} t ORDER BY 1")).scalars())


def contents(db: Database) -> dict[str, tuple[str, str, str, str]]:
    """control_id → (id, requirement, chunk, metadata)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT control_id, id::text, requirement, chunk, metadata::text FROM {TABLE}")
        ).all()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


@pytest.fixture(scope="module")
def server() -> Iterator[ThrowawayServer]:
    """A throwaway server with a migrated database."""
    srv = ThrowawayServer()
    try:
        srv.create_database(DATABASE)
        engine = create_db_engine(srv.url(DATABASE), load_settings(None), pool=False)
        migrations.upgrade(engine)
        engine.dispose()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def db(server: ThrowawayServer) -> Iterator[Database]:
    """A pooled database on the throwaway server, emptied; the server is up again afterwards."""
    database = Database(
        create_db_engine(server.url(DATABASE), load_settings(None, db_retry_count=8, db_timeout=5))
    )
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(sql_name(t) for t in ALL_TABLES)))
    yield database
    database.engine.dispose()
    if not server.is_running():
        server.start()


class Files:
    """The file loaded before the run (``old``) and the file the run imports (``new``)."""

    def __init__(self, folder: Path) -> None:
        # new: 300 rows unchanged-by-absence, 300 rows changed, 600 rows added (9 batches of 100).
        self.old = write_controls(folder / "old.csv", range(0, 600), version="a")
        self.new = write_controls(folder / "pci_dss_controls.csv", range(300, 1200), version="b")


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


@pytest.fixture
def before(db: Database, files: Files) -> list[str]:
    """The table after loading the old file: the state a failed run must leave."""
    report = import_file(db, files.old, TABLE, options=ImportOptions(batch_size=BATCH))
    assert report.status == "succeeded", report.error
    state = snapshot(db)
    assert len(state) == 600
    return state


def options(**extra: object) -> ImportOptions:
    return ImportOptions(batch_size=BATCH, **extra)  # type: ignore[arg-type]


def assert_failed_and_unchanged(db: Database, report: FileReport, before: list[str]) -> None:
    """The run failed, wrote nothing, and import history says so."""
    assert report.status == "failed"
    assert report.exit_code != 0
    assert report.error
    assert snapshot(db) == before
    last = list_runs(db, table=TABLE, limit=1)[0]
    assert last.status == "failed"
    assert last.error == report.error
    assert last.finished_at is not None


def assert_rerun_completes(
    db: Database, files: Files, before_rows: dict[str, tuple[str, ...]]
) -> None:
    """Running the same import again lands the complete new state (existing ids kept)."""
    report = import_file(db, files.new, TABLE, options=options())
    assert report.status == "succeeded", report.error
    assert (report.inserted, report.updated, report.unchanged) == (600, 300, 0)
    after = contents(db)
    assert len(after) == 1200
    for i in range(1200):
        key = control_id(i)
        version = "a" if i < 300 else "b"
        assert after[key][2] == f"Control text {i}, version {version}."
        if key in before_rows:
            assert after[key][0] == before_rows[key][0], "re-importing keeps the row's id"
    assert list_runs(db, table=TABLE, limit=1)[0].status == "succeeded"


def terminate(server: ThrowawayServer, *, query_prefix: str) -> int:
    """Terminate the importing backend (found by what it is running); returns how many."""
    with psycopg.connect(server.libpq_uri(DATABASE), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state = 'active' AND query LIKE %s",
            (query_prefix + "%",),
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


def at_batch(batch: int, action: Callable[[], None]) -> Callable[[ProgressEvent], None]:
    """A progress callback that runs ``action`` once, when the ``batch``-th batch is sent."""
    seen = 0

    def progress(event: ProgressEvent) -> None:
        nonlocal seen
        if event.stage == "rows":
            seen += 1
            if seen == batch:
                action()

    return progress


@pytest.mark.parametrize("batch", [1, 2, 4, 7, 9])
def test_connection_killed_during_copy_leaves_table_unchanged_and_rerun_completes(
    server: ThrowawayServer, db: Database, files: Files, before: list[str], batch: int
) -> None:
    old_rows = contents(db)
    killed: list[int] = []
    report = import_file(
        db,
        files.new,
        TABLE,
        options=options(),
        progress=at_batch(batch, lambda: killed.append(terminate(server, query_prefix="COPY"))),
    )
    assert killed == [1]
    assert_failed_and_unchanged(db, report, before)
    assert report.exit_code == ExitCode.CANNOT_CONNECT
    assert "connection" in (report.error or "")
    assert_rerun_completes(db, files, old_rows)


def _wait_until_blocked(server: ThrowawayServer, query_prefix: str) -> None:
    """Wait (bounded) until a backend running ``query_prefix...`` waits on a lock."""
    deadline = time.monotonic() + 20
    with psycopg.connect(server.libpq_uri(DATABASE), autocommit=True) as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE %s",
                (query_prefix + "%",),
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.02)
    raise AssertionError(f"no {query_prefix} ever waited on a lock")


def _import_in_thread(db: Database, path: Path) -> tuple[threading.Thread, list[FileReport]]:
    reports: list[FileReport] = []
    thread = threading.Thread(
        target=lambda: reports.append(import_file(db, path, TABLE, options=options()))
    )
    thread.start()
    return thread, reports


@pytest.mark.parametrize(
    ("blocker_sql", "statement"),
    [
        # A row the update changes is locked: the kill lands in the middle of the UPDATE.
        (f"SELECT 1 FROM {TABLE} WHERE control_id = '{control_id(450)}' FOR UPDATE", "UPDATE"),
        # A key the insert adds is being inserted elsewhere: the UPDATE is done, the INSERT waits.
        (
            f"INSERT INTO {TABLE} (control_id, chunk, metadata)"
            f" VALUES ('{control_id(1100)}', 'x', '{{}}')",
            "INSERT",
        ),
    ],
    ids=["during-update", "between-update-and-insert"],
)
def test_connection_killed_during_upsert_leaves_table_unchanged_and_rerun_completes(
    server: ThrowawayServer,
    db: Database,
    files: Files,
    before: list[str],
    blocker_sql: str,
    statement: str,
) -> None:
    old_rows = contents(db)
    with psycopg.connect(server.libpq_uri(DATABASE)) as blocker:
        blocker.execute(blocker_sql)
        thread, reports = _import_in_thread(db, files.new)
        try:
            _wait_until_blocked(server, statement)
            assert terminate(server, query_prefix=statement) == 1
        finally:
            thread.join(timeout=30)
            blocker.rollback()
    assert_failed_and_unchanged(db, reports[0], before)
    assert_rerun_completes(db, files, old_rows)


@pytest.mark.parametrize("batch", [3, 8])
def test_server_crash_and_restart_mid_import_leaves_table_unchanged(
    server: ThrowawayServer, db: Database, files: Files, before: list[str], batch: int
) -> None:
    old_rows = contents(db)
    report = import_file(
        db, files.new, TABLE, options=options(), progress=at_batch(batch, server.restart)
    )
    assert_failed_and_unchanged(db, report, before)
    assert report.exit_code == ExitCode.CANNOT_CONNECT
    assert_rerun_completes(db, files, old_rows)


def test_server_down_mid_import_is_recorded_once_it_is_back(
    server: ThrowawayServer,
    db: Database,
    files: Files,
    before: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server stays down until the importer's first reconnect attempt fails, so recording the
    # failure in import_runs has to go through the retry with backoff.
    caplog.set_level(logging.WARNING, logger="sentinel_db.db")
    old_rows = contents(db)
    retrying = threading.Event()

    class _OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                retrying.set()

    def _start_on_first_retry() -> None:
        if retrying.wait(timeout=30):
            server.start()

    restarter = threading.Thread(target=_start_on_first_retry, daemon=True)
    handler = _OnRetry()
    logging.getLogger("sentinel_db.db").addHandler(handler)
    try:
        restarter.start()
        report = import_file(
            db,
            files.new,
            TABLE,
            options=options(),
            progress=at_batch(5, lambda: server.stop(mode="immediate")),
        )
    finally:
        logging.getLogger("sentinel_db.db").removeHandler(handler)
        retrying.set()
        restarter.join(timeout=30)
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert_failed_and_unchanged(db, report, before)
    assert_rerun_completes(db, files, old_rows)


@pytest.mark.parametrize(
    ("setting", "words"),
    [("lock_timeout", "lock timeout"), ("statement_timeout", "statement timeout")],
)
def test_timeout_during_import_is_reported_and_nothing_is_written(
    server: ThrowawayServer,
    db: Database,
    files: Files,
    before: list[str],
    setting: str,
    words: str,
) -> None:
    old_rows = contents(db)
    admin = server.libpq_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {DATABASE} SET {setting} = '300ms'")
    # New connections pick the database setting up; the fixture's pool may hold old ones.
    timed = Database(create_db_engine(server.url(DATABASE), load_settings(None)))
    try:
        with psycopg.connect(server.libpq_uri(DATABASE)) as blocker:
            blocker.execute("SET lock_timeout = 0; SET statement_timeout = 0")
            blocker.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")
            report = import_file(timed, files.new, TABLE, options=options())
            blocker.rollback()
    finally:
        timed.engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {DATABASE} RESET {setting}")
    assert_failed_and_unchanged(db, report, before)
    assert words in (report.error or "")
    assert "nothing was written" in (report.error or "")
    assert report.exit_code == ExitCode.FAILED
    assert_rerun_completes(db, files, old_rows)
