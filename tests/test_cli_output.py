"""Output for people and programs: terminal width, JSON metadata, CSV timestamps, progress."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sentinel_db.cli import render
from sentinel_db.cli.progress import import_progress
from sentinel_db.importers import ImportOptions, ProgressEvent, import_directory, import_file
from sentinel_db.importers.report import (
    PHASE_CHECKS,
    PHASE_COMMIT,
    PHASE_INSERT,
    PHASE_LOCK,
    PHASE_READING,
    PHASE_UPDATE,
)
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES

Capsys = pytest.CaptureFixture[str]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def terminal_width() -> Iterator[Any]:
    """Set the width the CLI renders to, as a terminal of that size would."""
    saved = render.out._width

    def set_width(columns: int) -> None:
        render.out.width = columns

    yield set_width
    render.out._width = saved


@pytest.fixture
def sample_db(clean_db: Database, cli_env: dict[str, Any]) -> Database:
    """The bundled sample imported (one run recorded in import_runs)."""
    assert import_directory(clean_db, EXAMPLES).exit_code == 0
    return clean_db


def test_narrow_terminal_gets_key_value_blocks_with_whole_numbers(
    sample_db: Database, capsys: Capsys, terminal_width: Any
) -> None:
    terminal_width(80)
    result = run_cli(capsys, "import-data", "history")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "-- 1 --" in lines and "…" not in result.stdout
    read = sorted(int(line.split(":")[1]) for line in lines if line.strip().startswith("read:"))
    assert read == [21, 30, 38]  # every count whole, none cut to "2…"
    assert all(len(line) <= 80 for line in lines)
    stats = run_cli(capsys, "stats")
    assert stats.exit_code == 0 and all(len(line) <= 80 for line in stats.stdout.splitlines())
    controls = next(line for line in stats.stdout.splitlines() if "pci_dss_controls" in line)
    assert re.search(r"\b38\b", controls)  # the table name may be cut; the count never is


def test_wide_terminal_gets_one_table_row_per_record(
    sample_db: Database, capsys: Capsys, terminal_width: Any
) -> None:
    terminal_width(160)
    result = run_cli(capsys, "import-data", "history")
    assert result.exit_code == 0, result.output
    assert "-- 1 --" not in result.stdout
    rows = [line for line in result.stdout.splitlines() if "pci_dss_controls" in line]
    assert len(rows) == 1 and re.search(r"\b38\b", rows[0]) and "succeeded" in rows[0]


def test_long_text_is_cut_in_blocks_but_json_keeps_it_whole(
    sample_db: Database, capsys: Capsys, terminal_width: Any
) -> None:
    terminal_width(80)
    table = run_cli(capsys, "data", "list", "controls", "--limit", "2")
    assert table.exit_code == 0 and all(len(x) <= 80 for x in table.stdout.splitlines())
    whole = json.loads(
        run_cli(capsys, "data", "list", "controls", "--limit", "2", "--format", "json").stdout
    )
    assert any(len(row["chunk"]) > 80 for row in whole)


def test_history_csv_has_plain_iso_timestamps(sample_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "import-data", "history", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    for row in rows:
        assert '"' not in row["started_at"]
        assert datetime.fromisoformat(row["started_at"]).tzinfo is not None
        assert row["inserted"].isdigit()
    data = json.loads(run_cli(capsys, "import-data", "history", "--format", "json").stdout)
    assert datetime.fromisoformat(data[0]["finished_at"]) >= datetime.fromisoformat(
        data[0]["started_at"]
    )


def test_show_prints_metadata_one_entry_per_line_with_json_values(
    sample_db: Database, capsys: Capsys
) -> None:
    result = run_cli(capsys, "data", "show", "rule", "restricted-ssh")
    assert result.exit_code == 0, result.output
    detail = json.loads(
        run_cli(capsys, "data", "show", "rule", "restricted-ssh", "--format", "json").stdout
    )
    metadata = detail["rule"]["metadata"]
    block = result.stdout.split("metadata:\n", 1)[1].split("mapped to controls")[0]
    entries = {
        name.strip(): value.strip()
        for name, _, value in (line.partition(": ") for line in block.splitlines())
        if name.strip()
    }
    assert set(entries) == set(metadata)  # one line per entry, names as stored
    for name, value in metadata.items():
        # Strings as they are, every other value as JSON (never Python's True or quotes).
        assert entries[name] == (value if isinstance(value, str) else json.dumps(value))


def test_declined_confirmation_says_nothing_changed(sample_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "clear", "controls", input="n\n")
    assert result.exit_code == 1
    assert "nothing changed" in result.stderr
    assert result.stdout == "", "the question and its answer stay off stdout"
    closed = run_cli(capsys, "data", "clear", "controls", input="")
    assert closed.exit_code == 1 and closed.stdout == ""
    assert "declined: nothing changed" in closed.stderr
    listed = json.loads(run_cli(capsys, "data", "list", "controls", "--format", "json").stdout)
    assert len(listed) == 10


class _Clock:
    """A clock that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_timeline_tells_the_truth_about_a_slow_server_phase(
    clean_db: Database, cli_env: dict[str, Any]
) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80)
    clock = _Clock()
    frames: list[tuple[str, str]] = []  # (stage or phase, the live line drawn for it)
    source = EXAMPLES / "pci_dss_v4" / "database_import" / "pci_dss_controls.csv"
    import_file(clean_db, source, "pci_dss_controls")  # so the re-import updates too
    with import_progress(console, clock=clock) as draw:

        def tick(event: ProgressEvent) -> None:
            # Reading takes 0.1 s a row; each server phase is slowed to 10 s.
            clock.now += 10.0 if event.stage == "phase" else 0.1
            start = len(buffer.getvalue())
            draw(event)
            drawn = [x for x in _ANSI.sub("", buffer.getvalue()[start:]).splitlines() if x.strip()]
            frames.append((event.phase if event.stage == "phase" else event.stage, drawn[-1]))

        options = ImportOptions(force=True, batch_size=1)
        report = import_file(clean_db, source, "pci_dss_controls", options=options, progress=tick)
    seen = [stage for stage, _ in frames if stage not in ("start", "rows", "done")]
    assert seen == [PHASE_LOCK, PHASE_CHECKS, PHASE_UPDATE, PHASE_INSERT, PHASE_COMMIT]
    assert all(len(line) <= 80 for _, line in frames), [x for _, x in frames if len(x) > 80]
    reading = [line for stage, line in frames if stage == "rows"]
    assert reading and all(PHASE_READING in x and "rows/s" in x and "━" in x for x in reading)
    server = [(stage, line) for stage, line in frames if stage in seen]
    for number, (phase, line) in enumerate(server, start=1):
        # No fraction PostgreSQL did not report, no frozen read rate: the phase, the rows read,
        # a turning spinner and a clock that keeps running through the slow phases.
        assert phase in line and "rows/s" not in line and "━" not in line, line
        assert not line.lstrip().startswith("✓"), line
        assert f"0:00:{3 + 10 * number}" in line, line  # 3.8 s of reading, then 10 s each
    screen = _ANSI.sub("", buffer.getvalue()).splitlines()
    final = next(line for line in reversed(screen) if line.startswith("✓"))
    elapsed = clock.now - 0.1  # from the start event to the done event
    rate = int(report.rows_read / elapsed)
    assert final.startswith("✓ pci_dss_controls.csv done"), final
    assert f"{report.rows_read:,} rows, {rate:,} rows/s end to end" in final, final


def test_progress_is_plain_lines_when_not_a_terminal(
    clean_db: Database, cli_env: dict[str, Any]
) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=100)
    with import_progress(console) as draw:
        import_directory(clean_db, EXAMPLES, progress=draw)
    text = buffer.getvalue()
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert sum(line.startswith("importing ") for line in lines) == 3
    assert sum(line.endswith("rows read)") and PHASE_COMMIT in line for line in lines) == 3


def test_reject_file_round_trip_fix_and_reimport_all_land(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    source = tmp_path / "pci_dss_controls.csv"
    source.write_text(
        "control_id,requirement,chunk,metadata,note\n"
        "1.1,R,fine,{},a\n"
        '2.1,R,bad json,"{""a"": }",b\n'  # rejected while reading
        "1.1,R,differs from line 2,{},c\n"  # rejected by the checks in SQL
        'Z.9,R,bad id,"{""x"": [1, 2]}",d\n',
        encoding="utf-8",
    )
    first = run_cli(capsys, "import", str(source), "--no-progress")
    assert first.exit_code == 4, first.output
    rejects = tmp_path / "pci_dss_controls.csv.rejects.csv"
    rows = list(csv.reader(rejects.open(encoding="utf-8", newline="")))
    assert rows[0] == ["control_id", "requirement", "chunk", "metadata", "note"]
    assert sorted(r[-1] for r in rows[1:]) == ["b", "c", "d"]  # whole rows, extra column kept
    reasons = list(csv.DictReader((tmp_path / "pci_dss_controls.csv.rejects.errors.csv").open()))
    assert {r["line"] for r in reasons} == {"3", "4", "5"}
    fixed = {"b": ["2.1", "R", "good json", "{}", "b"], "c": ["1.2", "R", "renamed", "{}", "c"]}
    fixed["d"] = ["9.9", *rows[1:][[r[-1] for r in rows[1:]].index("d")][1:]]
    with rejects.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([rows[0], *fixed.values()])
    again = run_cli(capsys, "import", str(rejects), "--no-progress", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["total"]["inserted"] == 3
    listed = json.loads(run_cli(capsys, "data", "list", "controls", "--format", "json").stdout)
    assert [r["control_id"] for r in listed] == ["1.1", "1.2", "2.1", "9.9"]
    assert listed[-1]["metadata"] == {"x": [1, 2]}


def test_the_cli_log_handler_writes_to_stderr_as_it_is_now(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_DB_EMBEDDED_DIR", str(tmp_path / "never-used"))
    assert run_cli(capsys, "embedded", "status").exit_code == 0  # sets up the CLI's logging
    now = io.StringIO()  # as when the stream of the run before is gone (closed, captured)
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", now)
        logging.getLogger("sentinel_db.test").warning("still heard")
    assert "still heard" in now.getvalue()
    assert "Logging error" not in capsys.readouterr().err


def test_text_that_looks_like_an_emoji_code_is_shown_as_written(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    source = tmp_path / "pci_dss_controls.csv"
    source.write_text(
        "control_id,requirement,chunk,metadata\n"
        '9.9.9,Keys,"Mark :warning: on each :lock: box, as written.",{}\n',
        encoding="utf-8",
    )
    assert import_file(clean_db, source, "pci_dss_controls").exit_code == 0
    shown = run_cli(capsys, "data", "show", "control", "9.9.9")
    assert shown.exit_code == 0, shown.output
    listed = run_cli(capsys, "data", "list", "controls")
    for output in (shown.stdout, listed.stdout):
        assert ":warning:" in output and ":lock:" in output
        assert "\u26a0" not in output and "\U0001f512" not in output
