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


def test_table_names_are_accepted_in_the_same_forms_everywhere(
    sample_db: Database, capsys: Capsys, tmp_path: Any
) -> None:
    full = run_cli(
        capsys, "import-data", "history", "--table", "pci_dss_controls", "--format", "json"
    )
    for name in ("controls", "CONTROLS"):
        short = run_cli(capsys, "import-data", "history", "--table", name, "--format", "json")
        assert short.exit_code == 0, short.output
        assert json.loads(short.stdout) == json.loads(full.stdout) != []
    for name in ("controls", "rules", "mappings"):
        listed = run_cli(capsys, "data", "list", name, "--format", "json", "--limit", "1")
        assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 1
    source = tmp_path / "more.csv"
    source.write_text("control_id,chunk,metadata\n99.1,extra,{}\n", encoding="utf-8")
    imported = run_cli(capsys, "import-data", "csv", str(source), "controls", "--format", "json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["files"][0]["table"] == "pci_dss_controls"
    unknown = run_cli(capsys, "import-data", "history", "--table", "nope")
    assert unknown.exit_code == 2 and "(or controls, rules, guidance, mappings)" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["control", "10.2"], "did you mean 10.2.1?"),
        (["control", "99.9"], "`sentinel-db data list controls` lists them"),
        (["rule", "restricted-sh"], "did you mean restricted-ssh"),
    ],
)
def test_show_of_a_key_with_no_row_hints_at_the_keys_there_are(
    sample_db: Database, capsys: Capsys, args: list[str], hint: str
) -> None:
    result = run_cli(capsys, "data", "show", *args)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no {args[0]} '{args[1]}'")
    assert f"hint: {hint}" in result.stderr or hint in result.stderr.splitlines()[1]
