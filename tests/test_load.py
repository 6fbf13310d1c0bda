"""Readers during an import: threads through the pool and a separate process.

They must only ever see the table as it was before the file or as it is after it, never part of
it, and the import must complete.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from sentinel_db.errors import DatabaseTimeoutError
from sentinel_db.importers import ImportOptions, ProgressEvent, import_file
from sentinel_db.runtime.db import Database
from tests.conftest import REPO_ROOT
from tests.load_reader import observe

TABLE = "pci_dss_controls"
BEFORE, AFTER = 1000, 3000
THREADS = 3


def write_controls(path: Path, count: int, version: str) -> Path:
    """``count`` controls; requirement ``i % 10``; ``version`` in every row's metadata."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["control_id", "requirement", "chunk", "metadata"])
        for i in range(count):
            writer.writerow(
                [
                    f"{1 + i // 1000}.{i // 10 % 100}.{i % 10}",
                    f"Requirement {i % 10}",
                    f"Control {i} text, version {version}. " * 4,
                    json.dumps({"requirements_id": str(i % 10), "version": version}),
                ]
            )
    return path


# What a reader may see: everything from before the file, or everything after it.
ALLOWED = {(BEFORE, BEFORE // 10, ("a",)), (AFTER, AFTER // 10, ("b",))}


def test_readers_never_see_a_partial_import_and_the_import_completes(
    clean_db: Database, database_url_str: str, tmp_path: Path
) -> None:
    first = import_file(clean_db, write_controls(tmp_path / "a.csv", BEFORE, "a"), TABLE)
    assert first.status == "succeeded"
    big = write_controls(tmp_path / "pci_dss_controls.csv", AFTER, "b")

    stop = threading.Event()
    seen: list[list[tuple[int, int, tuple[str, ...]]]] = [[] for _ in range(THREADS)]
    failures: list[BaseException] = []
    timeouts: list[DatabaseTimeoutError] = []

    def read(slot: int) -> None:
        while not stop.is_set():
            try:
                count, part, versions = observe(clean_db)
            except DatabaseTimeoutError as exc:  # a clear error, but the pool is big enough
                timeouts.append(exc)
                continue
            except BaseException as exc:
                failures.append(exc)
                return
            seen[slot].append((count, part, tuple(versions)))

    out, stop_file = tmp_path / "process.jsonl", tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.load_reader", database_url_str, str(out), str(stop_file)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [threading.Thread(target=read, args=(slot,)) for slot in range(THREADS)]
    for thread in threads:
        thread.start()

    def process_reads() -> int:
        return len(out.read_text().splitlines()) if out.exists() else 0

    def wait_for_reads(more: int) -> None:
        """Hold the import until every reader has read ``more`` more times."""
        marks = [len(s) for s in seen] + [process_reads()]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not failures:
            counts = [len(s) for s in seen] + [process_reads()]
            if all(now >= mark + more for now, mark in zip(counts, marks, strict=True)):
                return
            time.sleep(0.01)
        raise AssertionError(f"readers stalled: {marks} -> {counts}; {failures}")

    batches = 0

    def progress(event: ProgressEvent) -> None:
        nonlocal batches
        if event.stage == "rows":
            batches += 1
            if batches in (3, 15, 29):
                wait_for_reads(2)

    try:
        wait_for_reads(1)  # everyone is reading before the import starts
        report = import_file(
            clean_db, big, TABLE, options=ImportOptions(batch_size=100), progress=progress
        )
        wait_for_reads(2)  # and goes on reading after it committed
    finally:
        stop.set()
        stop_file.touch()
        for thread in threads:
            thread.join(timeout=30)
        _, stderr = process.communicate(timeout=60)

    assert report.status == "succeeded", report.error
    assert (report.inserted, report.updated) == (AFTER - BEFORE, BEFORE)
    assert not failures, failures
    # Three readers and an import fit the pool: a reader that timed out waited 30 s for a
    # connection, which an import must never cause.
    assert timeouts == [], timeouts
    assert process.returncode == 0, stderr
    observed = [
        tuple([c, p, tuple(v)]) for c, p, v in map(json.loads, out.read_text().splitlines())
    ]
    for reader in [*seen, observed]:
        assert set(reader) <= ALLOWED, set(reader) - ALLOWED
        # Once a reader has seen the new state it never sees the old one again.
        states = [row[0] for row in reader]
        assert states == sorted(states)
        assert states[0] == BEFORE and states[-1] == AFTER
