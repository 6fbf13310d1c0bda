"""Quick reads on a direct psycopg session answer exactly as on a pooled SQLAlchemy session, and
the everyday read commands load no SQLAlchemy at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel_db.config import load_settings
from sentinel_db.importers import import_directory
from sentinel_db.records.tables import CONTROLS, REFERENCE_TABLES, RULES
from sentinel_db.repositories import (
    AwsConfigRuleRepository,
    PciAwsConfigMappingRepository,
    PciControlRepository,
    reads,
)
from sentinel_db.repositories.stats import database_stats
from sentinel_db.repositories.tables import repository_for
from sentinel_db.retrieval import lexical_sections, search_tables
from sentinel_db.runtime.db import Database
from sentinel_db.runtime.direct import DirectSession, direct_session
from tests.conftest import EXAMPLES

QUESTIONS = json.loads(
    (Path(__file__).resolve().parents[1] / "bench" / "search_questions.json").read_text("utf-8")
)


@pytest.fixture
def sample(clean_db: Database) -> Database:
    assert import_directory(clean_db, EXAMPLES).exit_code == 0
    return clean_db


@pytest.fixture
def direct(sample: Database, database_url_str: str) -> Iterator[DirectSession]:
    with direct_session(database_url_str, load_settings(None)) as session:
        yield session


def _same(a: Any, b: Any) -> None:
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_searches_answer_alike_on_a_direct_and_a_pooled_session(
    sample: Database, direct: DirectSession
) -> None:
    questions = sorted({q["question"] for q in QUESTIONS})[:40]
    questions += ["-sms mfa", '"multi-factor" -root', "the how", "zebras galloping", "8.3", ""]
    found = 0
    with sample.unit_of_work(read_only=True) as pooled:
        for question in questions:
            quick = lexical_sections(direct, question, limit=5)
            _same(quick, search_tables(pooled, question, limit=5))  # the repositories' path
            _same(quick, lexical_sections(pooled, question, limit=5))
            found += sum(len(section["hits"]) for section in quick)
    assert found > len(questions)  # the comparison covered real answers, not only empty ones


def test_reads_by_key_and_in_key_order_match_the_repositories(
    sample: Database, direct: DirectSession
) -> None:
    with sample.unit_of_work(read_only=True) as pooled:
        for table in REFERENCE_TABLES:
            repo = repository_for(pooled, table)
            ordered = [repo.to_record(r).to_dict() for r in repo.list(limit=100)]
            _same([r.to_dict() for r in reads.list_records(direct, table, limit=100)], ordered)
            _same(
                [r.to_dict() for r in reads.list_records(direct, table, limit=3, offset=2)],
                ordered[2:5],
            )
        controls = PciControlRepository(pooled)
        for control in controls.list(limit=100):
            key = control.control_id
            _same(
                reads.record_by_key(direct, CONTROLS, key).to_dict(),
                controls.to_record(control).to_dict(),
            )
        mappings = PciAwsConfigMappingRepository(pooled)
        ids = [c.control_id for c in controls.list(limit=100)]
        expected = mappings.rules_for_controls(ids, with_guidance=True)
        assert any(expected.values())
        _same(
            {k: [r.model_dump(mode="json") for r in v] for k, v in expected.items()},
            {
                k: [r.model_dump(mode="json") for r in v]
                for k, v in reads.rules_for_controls(direct, ids, with_guidance=True).items()
            },
        )
        for rule in AwsConfigRuleRepository(pooled).list(limit=100):
            assert reads.controls_for_rule(direct, rule.config_rule) == (
                mappings.controls_for_rule(rule.config_rule)
            )
        assert reads.near_keys(direct, CONTROLS, "10.2") == ["10.2.1"]
        assert not reads.key_exists(direct, RULES, "no-such-rule")
        _same(database_stats(direct).model_dump(), database_stats(pooled).model_dump())


_PROBE = """
import sys
from sentinel_db.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("sqlalchemy loaded" if "sqlalchemy" in sys.modules else "no sqlalchemy", code, file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "loads"),
    [
        (["stats"], False),
        (["data", "show", "control", "10.2.1"], False),
        (["data", "search", "multi-factor authentication"], False),
        (["data", "list", "controls"], False),
        (["data", "list", "all", "--format", "json"], False),
        (["stats", "--format", "json"], True),  # it reports the connection pool's figures
    ],
)
def test_everyday_read_commands_load_no_sqlalchemy(
    sample: Database, cli_env: dict[str, Any], args: list[str], loads: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBEDDING_")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, timeout=60
    )
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"{'sqlalchemy loaded' if loads else 'no sqlalchemy'} 0", result.stderr
    assert result.stdout.strip()


def test_a_read_command_that_cannot_connect_says_where_and_why_without_the_password(
    cli_env: dict[str, Any],
) -> None:
    env = {**cli_env, "DATABASE_URL": "postgresql://reader:s3cret-pw@127.0.0.1:1/x"}
    env["DB_RETRY_COUNT"] = "0"
    result = subprocess.run(
        [sys.executable, "-m", "sentinel_db", "stats"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "error: cannot connect to postgresql://***@127.0.0.1:1/x: connection refused" in (
        result.stderr
    )
    assert "hint: is PostgreSQL running" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and result.stdout == ""
