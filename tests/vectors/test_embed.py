"""`embed_missing` and `sentinel-db embed`: missing and stale rows, batches, resuming a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.importers.embed import embed_missing
from sentinel_db.importers.history import list_runs
from sentinel_db.records.embeddings import embedding_text
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.embedding_server import Script, embedding_server, text_vector
from tests.vectors.conftest import libpq
from tests.vectors.helpers import CONTROLS, RULES, seed_text


class CountingEmbedder:
    """Deterministic vectors (those of the test server), counting the texts it was asked."""

    model = "test-model"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def embed(self, text: str) -> list[float]:
        return self.embed_batch([text])[0]

    def embed_batch(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked.extend(texts)
        return [text_vector(t) for t in texts]


def _stored(db: Database) -> dict[str, list[float]]:
    with db.unit_of_work(read_only=True) as session:
        rows = session.execute(
            text(
                "SELECT control_id, embedding::text FROM pci_dss_controls_embeddings"
                " WHERE model = 'test-model'"
            )
        ).all()
    return {k: _rounded([float(x) for x in v.strip("[]").split(",")]) for k, v in rows}


def _expected(db: Database) -> dict[str, list[float]]:
    with db.unit_of_work(read_only=True) as session:
        rows = session.execute(text("SELECT * FROM pci_dss_controls")).mappings().all()
    return {
        r["control_id"]: _rounded(text_vector(embedding_text("pci_dss_controls", r))) for r in rows
    }


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(v, 5) for v in values]


def test_embeds_missing_rows_then_only_what_changed(vector_db: Database) -> None:
    with vector_db.unit_of_work() as session:
        seed_text(session)
    embedder = CountingEmbedder()
    with vector_db.session() as session:
        first = embed_missing(session, embedder, "pci_dss_controls", batch_size=4)
    assert (first.embedded, first.current, first.failed) == (len(CONTROLS), 0, 0)
    assert _stored(vector_db) == _expected(vector_db)
    with vector_db.session() as session:
        again = embed_missing(session, embedder, "controls")
    assert (again.embedded, again.current) == (0, len(CONTROLS))
    assert len(embedder.asked) == len(CONTROLS), "a run with nothing to do asks nothing"
    with vector_db.unit_of_work() as session:
        session.execute(
            text("UPDATE pci_dss_controls SET chunk = 'changed' WHERE control_id = '3.4'")
        )
    with vector_db.session() as session:
        third = embed_missing(session, embedder, "pci_dss_controls")
    assert (third.refreshed, third.current) == (1, len(CONTROLS) - 1)
    assert embedder.asked[-1] == embedding_text(
        "pci_dss_controls", {"requirement": "Requirement 3", "chunk": "changed"}
    )
    runs = [r for r in list_runs(vector_db) if r.table_name == "pci_dss_controls_embeddings"]
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert runs[0].updated == 1 and runs[1].inserted == len(CONTROLS)


def test_a_dry_run_counts_and_stores_nothing(vector_db: Database) -> None:
    with vector_db.unit_of_work() as session:
        seed_text(session)
    with vector_db.session() as session:
        report = embed_missing(session, CountingEmbedder(), "pci_dss_controls", dry_run=True)
    assert (report.to_embed, report.embedded, report.status) == (len(CONTROLS), 0, "dry-run")
    assert _stored(vector_db) == {}


def test_a_killed_run_resumes_without_losing_or_duplicating_vectors(
    vector_db: Database, vector_url: URL
) -> None:
    with vector_db.unit_of_work() as session:
        seed_text(session)
    with embedding_server(Script(hold_from=3)) as (url, script):
        env = {
            **os.environ,
            "DATABASE_URL": libpq(vector_url),
            "EMBEDDING_URL": url,
            "EMBEDDING_MODEL": "test-model",
            "EMBEDDING_BATCH_SIZE": "2",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "sentinel_db", "embed", "pci_dss_controls"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Two batches answered and committed, the third held by the server: kill now.
            deadline = time.monotonic() + 60
            while not (len(script.requests) >= 3 and len(_stored(vector_db)) == 4):
                assert proc.poll() is None and time.monotonic() < deadline, "embed did not start"
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    stored = _stored(vector_db)
    expected = _expected(vector_db)
    assert len(stored) == 4 and all(stored[k] == expected[k] for k in stored)
    runs = [r for r in list_runs(vector_db) if r.table_name == "pci_dss_controls_embeddings"]
    assert runs[0].status == "failed" and runs[0].inserted == 4
    embedder = CountingEmbedder()
    with vector_db.session() as session:
        report = embed_missing(session, embedder, "pci_dss_controls", batch_size=2)
    assert (report.embedded, report.current) == (len(CONTROLS) - 4, 4)
    assert len(embedder.asked) == len(CONTROLS) - 4
    with vector_db.unit_of_work(read_only=True) as session:
        count = session.execute(text("SELECT count(*) FROM pci_dss_controls_embeddings")).scalar()
    assert count == len(CONTROLS)
    assert _stored(vector_db) == expected


@pytest.fixture
def seeded_cli(vector_db: Database, vector_url: URL, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The vectors database with the small seed, and the CLI pointed at it."""
    with vector_db.unit_of_work() as session:
        seed_text(session)
    monkeypatch.setenv("DATABASE_URL", libpq(vector_url))
    return vector_db


def test_embed_command_reports_and_a_second_run_does_nothing(
    seeded_cli: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with embedding_server() as (url, script):
        monkeypatch.setenv("EMBEDDING_URL", url)
        monkeypatch.setenv("EMBEDDING_MODEL", "test-model")
        dry = run_cli(capsys, "embed", "--dry-run", "--format", "json")
        assert dry.exit_code == 0 and script.requests == []
        assert [r["to_embed"] for r in json.loads(dry.stdout)] == [len(CONTROLS), len(RULES)]
        first = run_cli(capsys, "embed", "--format", "json")
        second = run_cli(capsys, "embed", "rules", "--format", "json")
        asked = len(script.requests)
    assert first.exit_code == 0, first.stderr
    assert [(r["table"], r["embedded"]) for r in json.loads(first.stdout)] == [
        ("pci_dss_controls", len(CONTROLS)),
        ("aws_config_rules_guidance", len(RULES)),
    ]
    assert [(r["embedded"], r["current"]) for r in json.loads(second.stdout)] == [(0, len(RULES))]
    assert asked == 2, "one batch per table, nothing on the second run"
    unknown = run_cli(capsys, "embed", "no_such_table")
    assert unknown.exit_code == 2 and "no vectors are kept for 'no_such_table'" in unknown.stderr


def test_auth_check_reports_the_provider_and_whether_stored_vectors_match(
    seeded_cli: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with seeded_cli.session() as session:
        embed_missing(session, CountingEmbedder(), "pci_dss_controls")
    monkeypatch.setenv("EMBEDDING_MODEL", "test-model")
    monkeypatch.setenv("EMBEDDING_API_KEY", "sk-planted-check-key")
    reports = {}
    for dims in (8, 3):
        with embedding_server(Script(dims=dims)) as (url, _script):
            monkeypatch.setenv("EMBEDDING_URL", url)
            result = run_cli(capsys, "auth", "check", "--format", "json")
            reports[dims] = json.loads(result.stdout)
            assert "sk-planted-check-key" not in result.stdout + result.stderr
    same, other = reports[8]["embedding"], reports[3]["embedding"]
    assert (same["reachable"], same["dimensions"], same["matches_stored"]) == (True, 8, True)
    assert same["stored"] == [{"table": "pci_dss_controls_embeddings", "dimensions": 8}]
    assert (other["dimensions"], other["matches_stored"]) == (3, False)
    assert any("differ in dimension" in w for w in reports[3]["warnings"])
    monkeypatch.setenv("EMBEDDING_URL", url)  # that server is stopped now
    gone = json.loads(run_cli(capsys, "auth", "check", "--format", "json").stdout)
    assert (
        gone["embedding"]["reachable"] is False and "cannot connect" in gone["embedding"]["error"]
    )
    assert any("not reachable" in w for w in gone["warnings"])


def test_import_embed_embeds_what_the_import_changed_and_a_refusal_is_reported(
    vector_db: Database,
    vector_url: URL,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sample = Path(__file__).resolve().parents[2] / "src" / "sentinel_db" / "sample_data"
    monkeypatch.setenv("DATABASE_URL", libpq(vector_url))
    monkeypatch.setenv("EMBEDDING_MODEL", "test-model")
    with embedding_server() as (url, script):
        monkeypatch.setenv("EMBEDDING_URL", url)
        imported = run_cli(capsys, "import", str(sample), "--embed")
        assert imported.exit_code == 0, imported.stderr
        with vector_db.unit_of_work(read_only=True) as session:
            counts = session.execute(
                text(
                    "SELECT (SELECT count(*) FROM pci_dss_controls_embeddings),"
                    " (SELECT count(*) FROM pci_dss_controls),"
                    " (SELECT count(*) FROM aws_config_rules_guidance_embeddings),"
                    " (SELECT count(*) FROM aws_config_rules_guidance)"
                )
            ).one()
        assert counts[0] == counts[1] > 0 and counts[2] == counts[3] > 0
        with vector_db.unit_of_work() as session:
            session.execute(text("UPDATE pci_dss_controls SET chunk = chunk || ' (revised)'"))
        script.fail_next(400, '{"error": {"message": "input too long"}}')
        refused = run_cli(capsys, "embed", "controls", "--format", "json")
    (report,) = json.loads(refused.stdout)
    assert refused.exit_code == 1
    assert report["failed"] == counts[1] and report["refreshed"] == 0
    assert "HTTP 400: input too long" in report["reasons"]
