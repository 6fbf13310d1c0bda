"""What a person sees at 80 and 120 columns, and which stream each part goes to.

Every table-printing command is rendered at both widths: no line is wider than the terminal,
no key or name is split, no date or number is cut, and stdout holds only results (messages and
progress go to stderr).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sentinel_db.cli import render
from sentinel_db.importers import import_directory
from sentinel_db.runtime.db import Database
from tests.cli_helpers import Result, run_cli, run_subprocess
from tests.conftest import EXAMPLES

Capsys = pytest.CaptureFixture[str]
WIDTHS = [80, 120]
_DATE_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")


@pytest.fixture
def sample_db(clean_db: Database, cli_env: dict[str, Any]) -> Database:
    """The bundled sample imported."""
    assert import_directory(clean_db, EXAMPLES).exit_code == 0
    return clean_db


@pytest.fixture(params=WIDTHS)
def width(request: pytest.FixtureRequest) -> Iterator[int]:
    """Both consoles render to a terminal this wide."""
    saved = render.out._width, render.err._width
    render.out.width = render.err.width = request.param
    yield int(request.param)
    render.out._width, render.err._width = saved


def _fits(result: Result, width: int) -> None:
    assert result.exit_code == 0, result.output
    wide = [line for line in result.stdout.splitlines() if len(line) > width]
    assert not wide, wide


def _whole(text: str, words: list[str]) -> None:
    """Each of ``words`` appears whole (unsplit, uncut) in ``text``."""
    missing = [w for w in words if not re.search(rf"(?<![\w.-]){re.escape(w)}(?![\w-])", text)]
    assert not missing, missing


def _json(capsys: Capsys, *args: str) -> Any:
    result = run_cli(capsys, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_stats_keeps_table_names_counts_and_import_times_whole(
    sample_db: Database, capsys: Capsys, width: int
) -> None:
    result = run_cli(capsys, "stats")

    _fits(result, width)
    data = _json(capsys, "stats")
    _whole(result.stdout, [t["table"] for t in data["tables"]])
    _whole(result.stdout, [str(t["rows"]) for t in data["tables"]])
    imported = [t for t in data["tables"] if t["last_import"]]
    assert len(_DATE_TIME.findall(result.stdout)) == len(imported)
    assert "…" not in result.stdout and result.stderr == ""


def test_data_search_keeps_keys_and_rule_names_whole(
    sample_db: Database, capsys: Capsys, width: int
) -> None:
    question = "mfa for console access"
    result = run_cli(capsys, "data", "search", question)

    _fits(result, width)
    sections = _json(capsys, "data", "search", question)["results"]
    keys = [hit["key"] for section in sections for hit in section["hits"]]
    rules = [r["rule"] for s in sections for hit in s["hits"] for r in hit.get("rules", [])]
    assert "mfa-enabled-for-iam-console-access" in keys
    _whole(result.stdout, keys + rules)
    assert result.stderr == ""


def test_data_list_and_history_keep_keys_dates_and_numbers_whole(
    sample_db: Database, capsys: Capsys, width: int
) -> None:
    for table, key in (("controls", "control_id"), ("rules", "config_rule")):
        listed = run_cli(capsys, "data", "list", table, "--limit", "5")
        _fits(listed, width)
        rows = _json(capsys, "data", "list", table, "--limit", "5")
        _whole(listed.stdout, [row[key] for row in rows])
        # A column that does not fit is left out whole, and a notice on stderr says which.
        left_out = [name for name in rows[0] if not re.search(rf"\b{name}\b", listed.stdout)]
        if left_out:
            assert f"not shown at this width: {', '.join(left_out)}" in listed.stderr
        else:
            assert listed.stderr == ""
    history = run_cli(capsys, "import-data", "history")
    _fits(history, width)
    runs = _json(capsys, "import-data", "history")
    _whole(history.stdout, [run["table_name"] for run in runs])
    _whole(history.stdout, [str(run["rows_read"]) for run in runs])
    assert len(re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", history.stdout)) == len(runs)


def test_data_show_wraps_text_at_spaces_and_keeps_rule_names_whole(
    sample_db: Database, capsys: Capsys, width: int
) -> None:
    result = run_cli(capsys, "data", "show", "control", "2.2.7")

    assert result.exit_code == 0, result.output
    detail = _json(capsys, "data", "show", "control", "2.2.7")
    _whole(result.stdout, [rule["rule"] for rule in detail["rules"]])
    _fits(result, width)
    chunk = " ".join(result.stdout.split("chunk:")[1].split("metadata:")[0].split())
    assert chunk == detail["control"]["chunk"]  # every word of the text, in order
    metadata = detail["control"]["metadata"]
    _whole(result.stdout, [f"{key}:" for key in metadata])
    shown = " ".join(result.stdout.split("metadata:")[1].split("mapped rule")[0].split())
    for value in metadata.values():
        assert (value if isinstance(value, str) else json.dumps(value)) in shown


def test_every_command_keeps_results_on_stdout_and_the_rest_on_stderr(
    sample_db: Database, capsys: Capsys
) -> None:
    for args in (
        ["stats"],
        ["data", "list", "all"],
        ["data", "search", "encryption"],
        ["data", "show", "rule", "restricted-ssh"],
        ["import-data", "history"],
    ):
        result = run_cli(capsys, *args, "--format", "json")
        assert result.exit_code == 0, result.output
        json.loads(result.stdout)
        assert result.stderr == "", args
    csv = run_cli(capsys, "data", "search", "the how", "--format", "csv")
    assert csv.stdout == "" and csv.stderr.count("no searchable words") == 1
    seed = run_cli(capsys, "data", "seed")
    assert "pci_dss_controls: 0 inserted" in seed.stdout and seed.stderr == ""
    empty = run_cli(capsys, "data", "search", "how the")
    assert empty.stdout == ""
    assert empty.stderr.strip().splitlines() == [
        "pci_dss_controls and aws_config_rules_guidance: no searchable words in the query"
        " (common words such as 'how' or 'the' are ignored)"
    ]


def test_an_import_report_redirected_to_a_file_is_the_whole_report(
    clean_db: Database, cli_env: dict[str, Any]
) -> None:
    result = run_subprocess("import", str(EXAMPLES), env={**cli_env, "COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    report = result.stdout.splitlines()
    assert report[-1].startswith("total: rows read 89, inserted 89")
    assert sum(" -> " in line and ": succeeded;" in line for line in report) == 3
    assert "importing" not in result.stdout  # progress went to stderr
    assert sum(line.startswith("importing ") for line in result.stderr.splitlines()) == 3
    as_json = run_subprocess("import", str(EXAMPLES), "--format", "json", env=cli_env)
    assert json.loads(as_json.stdout)["files"][0]["status"] == "skipped"
