"""Usage errors read like every other user error, and a question may start with ``-``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sentinel_db.importers import import_directory
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def sample_db(clean_db: Database, cli_env: dict[str, Any]) -> Database:
    """The bundled sample imported."""
    assert import_directory(clean_db, EXAMPLES).exit_code == 0
    return clean_db


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "search", "mfa", "--frob"], "error: No such option: --frob"),
        (["data", "search", "mfa", "--limit", "0"], "error: Invalid value for '--limit'"),
        (["data", "search"], "error: Missing argument 'QUESTION'."),
        (["data", "list"], "error: Missing argument 'TABLE'."),
        (["stats", "--format", "xml"], "error: Invalid value for '--format'"),
        (["--bogus"], "error: No such option: --bogus"),
    ],
)
def test_a_usage_error_is_an_error_and_a_hint_with_exit_code_2(
    capsys: Capsys, args: list[str], message: str
) -> None:
    result = run_cli(capsys, *args)

    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(message), result.stderr
    assert lines[1].startswith("hint: see 'sentinel-db") and "--help" in lines[1]
    assert "╭" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["data", "search"], "data search [OPTIONS] QUESTION"),
        (["data", "show"], "data show [OPTIONS] KIND KEY"),
        (["data", "list"], "data list [OPTIONS] TABLE"),
        (["import"], "import [OPTIONS] [SOURCE]"),
    ],
)
def test_usage_lines_name_arguments_plainly(capsys: Capsys, args: list[str], usage: str) -> None:
    result = run_cli(capsys, *args, "--help")

    assert result.exit_code == 0
    assert f"Usage: sentinel-db {usage}" in result.stdout
    assert "{" not in result.stdout.split("Usage:")[1].splitlines()[0]


def test_a_question_may_start_with_a_minus_word(sample_db: Database, capsys: Capsys) -> None:
    both = run_cli(capsys, "data", "search", "mfa", "--table", "rules", "--format", "json")
    minus = run_cli(capsys, "data", "search", "-root mfa", "--table", "rules", "--format", "json")
    behind = run_cli(capsys, "data", "search", "--table", "rules", "-root", "--format", "json")

    assert (both.exit_code, minus.exit_code, behind.exit_code) == (0, 0, 0), minus.output
    keys = [hit["key"] for hit in json.loads(both.stdout)["results"][0]["hits"]]
    assert "root-account-mfa-enabled" in keys
    without = [hit["key"] for hit in json.loads(minus.stdout)["results"][0]["hits"]]
    assert without == [k for k in keys if "root" not in k] and without
    assert json.loads(behind.stdout)["query"] == "-root"


def test_a_closed_stdin_declines_data_clear(sample_db: Database, capsys: Capsys) -> None:
    result = run_cli(capsys, "data", "clear", "controls", input="")

    assert result.exit_code == 1
    assert result.stderr.rstrip().endswith("declined: nothing changed")
    assert "Aborted" not in result.output
    listed = json.loads(run_cli(capsys, "data", "list", "controls", "--format", "json").stdout)
    assert len(listed) == 10
