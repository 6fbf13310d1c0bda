"""Reject files are safe to work in: the source's bytes, never overwritten once fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli

Capsys = pytest.CaptureFixture[str]
HEADER = b"control_id,requirement,chunk,metadata\n"


def _controls(capsys: Capsys) -> list[str]:
    listed = run_cli(capsys, "data", "list", "controls", "--format", "json", "--limit", "100")
    return [row["control_id"] for row in json.loads(listed.stdout)]


def test_round_trip_lf_in_lf_out_fix_reimport_and_rerun_keeps_the_fixed_file(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    source = folder / "pci_dss_controls.csv"
    rejected = [
        b'2.1,R,"bad json, quoted as typed",{oops}\n',  # rejected while reading
        b"1.1,R,differs from line 2,{}\n",  # rejected by the checks in SQL
        b"Z.9,R,bad id,{}\n",
    ]
    source.write_bytes(HEADER + b"1.1,R,fine,{}\n" + b"".join(rejected))

    first = run_cli(capsys, "import", str(folder), "--no-progress")

    assert first.exit_code == 4, first.output
    rejects = folder / "pci_dss_controls.csv.rejects.csv"
    assert rejects.read_bytes() == HEADER + b"".join(rejected)  # LF in, LF out, quoting kept
    errors = folder / "pci_dss_controls.csv.rejects.errors.csv"
    assert errors.read_bytes().count(b"\r\n") == 0
    assert f"rejected rows written to {rejects}" in first.stdout

    fixed = HEADER + b"2.1,R,good json,{}\n1.2,R,renamed,{}\n9.9,R,good id,{}\n"
    rejects.write_bytes(fixed)
    again = run_cli(capsys, "import", str(rejects), "--no-progress", "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["total"]["inserted"] == 3
    assert _controls(capsys) == ["1.1", "1.2", "2.1", "9.9"]

    rerun = run_cli(capsys, "import", str(folder), "--no-progress", "--force")

    assert rerun.exit_code == 4, rerun.output
    assert rejects.read_bytes() == fixed  # the fixed file is still there, untouched
    second = folder / "pci_dss_controls.csv.rejects-2.csv"
    assert second.read_bytes() == HEADER + b"".join(rejected)
    assert f"{rejects} was left as it is" in rerun.stdout
    assert f"rejected rows written to {second}" in rerun.stdout
    assert "a reject file (import it by name once fixed)" in rerun.stdout
    assert "why rows were rejected (a list of reasons to read" in rerun.stdout

    same = run_cli(capsys, "import", str(source), "--no-progress", "--force")
    assert same.exit_code == 4
    assert not (folder / "pci_dss_controls.csv.rejects-3.csv").exists()  # same rejects: reused


def test_crlf_and_cp1252_sources_get_reject_files_in_their_own_bytes(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    source = tmp_path / "pci_dss_controls.csv"
    bad = b"Z.9,R,caf\xe9 cr\xe8me,{}\r\n"
    source.write_bytes(HEADER.replace(b"\n", b"\r\n") + b"1.1,R,fine,{}\r\n" + bad)

    result = run_cli(capsys, "import", str(source), "--no-progress", "--encoding", "cp1252")

    assert result.exit_code == 4, result.output
    rejects = tmp_path / "pci_dss_controls.csv.rejects.csv"
    assert rejects.read_bytes() == HEADER.replace(b"\n", b"\r\n") + bad


def test_the_errors_file_named_on_its_own_is_refused_with_a_hint(
    clean_db: Database, cli_env: dict[str, Any], capsys: Capsys, tmp_path: Path
) -> None:
    errors = tmp_path / "pci_dss_controls.csv.rejects.errors.csv"
    errors.write_text("file,line,column,reason,reject_row\n", encoding="utf-8")

    result = run_cli(capsys, "import", str(errors), "--no-progress")

    assert result.exit_code == 2
    assert "lists why rows were rejected; it holds no rows to import" in result.stderr
    assert "hint: fix the rows in" in result.stderr and "rejects.csv" in result.stderr


@pytest.mark.parametrize(
    ("content", "encoding", "shown"),
    [
        (b"\xef\xbb\xbfcontrol_id,requirement,chunk,metadata\n1.1,R,x,{}\n", "utf-8", "\\ufeff"),
        (b"\xef\xbb\xbfcontrol_id,chunk,metadata\n1.1,caf\xe9,{}\n", "cp1252", "ï»¿control_id"),
        (b"control_id\xe2\x80\x8b,chunk,metadata\n1.1,x,{}\n", None, "control_id\\u200b"),
    ],
)
def test_a_header_error_shows_the_header_as_found_with_invisible_characters_visible(
    clean_db: Database,
    cli_env: dict[str, Any],
    capsys: Capsys,
    tmp_path: Path,
    content: bytes,
    encoding: str | None,
    shown: str,
) -> None:
    source = tmp_path / "pci_dss_controls.csv"
    source.write_bytes(content)
    extra = ["--encoding", encoding] if encoding else []

    result = run_cli(capsys, "import", str(source), "--no-progress", *extra)

    assert result.exit_code == 4, result.output
    assert "missing required column control_id" in result.stdout
    assert f"the header read is {shown}" in result.stdout, result.stdout
    if content.startswith(b"\xef\xbb\xbf"):
        assert "byte order mark" in result.stdout
