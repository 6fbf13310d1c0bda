"""Importing the embeddings files: counts, checks with line numbers, idempotence, stale vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from sentinel_db.importers import ImportOptions, import_directory, import_file, list_runs
from sentinel_db.repositories.stats import vector_stats
from sentinel_db.runtime.db import Database
from tests.cli_helpers import run_cli
from tests.vectors.conftest import libpq
from tests.vectors.helpers import CONTROLS, RULES, vector, write_controls, write_embeddings

MODEL = "test-model"
CONTROL_VECTORS = "pci_dss_controls_embeddings"
RULE_VECTORS = "aws_config_rules_guidance_embeddings"


def _source(folder: Path, dims: int = 6) -> Path:
    write_controls(folder / "pci_dss_controls.csv", CONTROLS)
    write_embeddings(
        folder / f"{CONTROL_VECTORS}.csv",
        "control_id",
        [(key, MODEL, vector(i, dims)) for i, key in enumerate(CONTROLS)],
    )
    rules = folder / "aws_config_rules_guidance.csv"
    rules.write_text(
        "config_rule,chunk,metadata\n" + "".join(f"{k},{v},{{}}\n" for k, v in RULES.items()),
        encoding="utf-8",
    )
    write_embeddings(
        folder / f"{RULE_VECTORS}.csv",
        "config_rule",
        [(key, MODEL, vector(50 + i, dims)) for i, key in enumerate(RULES)],
    )
    return folder


def _stored_controls(db: Database) -> list[tuple[object, ...]]:
    """Every stored control vector, with xmin: a rewritten row shows a new one."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT control_id, model, dimensions, embedding::text, content_sha256,"
                f" xmin::text FROM {CONTROL_VECTORS} ORDER BY 1, 2"
            )
        )
        return [tuple(r) for r in rows]


def test_embeddings_files_import_after_their_text_and_reimport_changes_nothing(
    vector_db: Database, tmp_path: Path
) -> None:
    source = _source(tmp_path)
    report = import_directory(vector_db, source)
    counts = {f.table: (f.rows_read, f.inserted, f.rejected, f.warnings) for f in report.files}
    assert counts == {
        "pci_dss_controls": (6, 6, 0, 0),
        "aws_config_rules_guidance": (2, 2, 0, 0),
        CONTROL_VECTORS: (6, 6, 0, 0),
        RULE_VECTORS: (2, 2, 0, 0),
    }
    assert [f.table for f in report.files][-2:] == [CONTROL_VECTORS, RULE_VECTORS]
    before = _stored_controls(vector_db)
    assert before[0][:3] == ("1.1", MODEL, 6)
    forced = import_directory(vector_db, source, options=ImportOptions(force=True))
    assert [(f.inserted, f.updated, f.unchanged) for f in forced.files][-2:] == [
        (0, 0, 6),
        (0, 0, 2),
    ]
    assert _stored_controls(vector_db) == before  # same rows, not even rewritten
    skipped = import_directory(vector_db, source)
    assert {f.status for f in skipped.files} == {"skipped"}
    runs = list_runs(vector_db, table=CONTROL_VECTORS)
    assert [r.status for r in runs] == ["skipped", "succeeded", "succeeded"]


def test_bad_vectors_are_rejected_with_their_line_and_reason(
    vector_db: Database, tmp_path: Path
) -> None:
    write_controls(tmp_path / "pci_dss_controls.csv", CONTROLS)
    import_directory(vector_db, tmp_path)
    path = write_embeddings(
        tmp_path / f"{CONTROL_VECTORS}.csv",
        "control_id",
        [
            ("1.1", MODEL, [0.1, 0.2, 0.3]),  # line 2: sets the model's dimension
            ("1.2", MODEL, "[0.1, NaN, 0.3]"),  # line 3
            ("3.4", MODEL, '[0.1, "x", 0.3]'),  # line 4
            ("8.3", MODEL, [0.1, 0.2]),  # line 5: wrong dimension
            ("8.4", MODEL, "[]"),  # line 6
            ("9.9", MODEL, [0.1, 0.2, 0.3]),  # line 7: unknown control (warning)
            ("1.1", MODEL, [0.3, 0.2, 0.1]),  # line 8: same key and model, other vector
            ("10.2", MODEL, "[1e39, 0, 0]"),  # line 9: beyond a 32-bit float
        ],
    )
    report = import_file(vector_db, path, CONTROL_VECTORS)
    problems = {(p.line, p.column): p.reason for p in report.errors}
    assert report.status == "partial" and report.rejected == 6 and report.inserted == 1
    assert "NaN" in problems[(3, "embedding")]
    assert "element 2 is not a number" in problems[(4, "embedding")]
    assert problems[(5, "embedding")] == f"2 dimensions, but model '{MODEL}' has 3 (line 2)"
    assert "empty" in problems[(6, "embedding")]
    assert "differs from line 2" in problems[(8, "control_id")]
    assert "32-bit" in problems[(9, "embedding")]
    [warning] = report.warning_list
    assert (warning.line, warning.column) == (7, "control_id")
    assert "'9.9' is not in pci_dss_controls" in warning.reason
    strict = import_file(
        vector_db, path, CONTROL_VECTORS, options=ImportOptions(strict=True, force=True)
    )
    assert 7 in {p.line for p in strict.errors} and strict.rejected == 7


def test_a_second_file_may_not_change_a_models_dimension(
    vector_db: Database, tmp_path: Path
) -> None:
    import_directory(vector_db, _source(tmp_path))
    (tmp_path / "more").mkdir()
    path = write_embeddings(
        tmp_path / "more" / f"{CONTROL_VECTORS}.csv",
        "control_id",
        [("1.1", MODEL, vector(1, 7))],
    )
    report = import_file(vector_db, path, CONTROL_VECTORS)
    assert report.rejected == 1
    assert report.errors[0].reason == f"7 dimensions, but model '{MODEL}' has 6 (stored vectors)"


def test_changed_text_marks_its_vectors_stale_until_embedded_again(
    vector_db: Database, tmp_path: Path
) -> None:
    source = _source(tmp_path)
    import_directory(vector_db, source)
    changed = dict(CONTROLS, **{"1.1": "Firewalls are reviewed every six months"})
    write_controls(source / "pci_dss_controls.csv", changed)
    report = import_file(vector_db, source / "pci_dss_controls.csv", "pci_dss_controls")
    assert report.updated == 1
    assert [w.reason for w in report.warning_list] == [
        "1 stored vector(s) no longer match their text (stale): embed them again"
    ]
    with vector_db.unit_of_work(read_only=True) as session:
        stats = vector_stats(session)
    assert stats is not None
    assert {(s.table, s.vectors, s.stale) for s in stats} == {
        (CONTROL_VECTORS, 6, 1),
        (RULE_VECTORS, 2, 0),
    }
    write_embeddings(
        source / f"{CONTROL_VECTORS}.csv", "control_id", [("1.1", MODEL, vector(99, 6))]
    )
    again = import_file(vector_db, source / f"{CONTROL_VECTORS}.csv", CONTROL_VECTORS)
    assert (again.inserted, again.updated) == (0, 1)
    with vector_db.unit_of_work(read_only=True) as session:
        restored = vector_stats(session)
    assert restored is not None
    assert {(s.table, s.vectors, s.stale) for s in restored} == {
        (CONTROL_VECTORS, 6, 0),
        (RULE_VECTORS, 2, 0),
    }


def test_cli_imports_vectors_and_shows_them_in_stats_and_similar(
    vector_db: Database,
    vector_url: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sentinel_db.config import get_settings

    monkeypatch.setenv("DATABASE_URL", libpq(vector_url))  # type: ignore[arg-type]
    get_settings.cache_clear()
    (tmp_path / "data").mkdir()
    source = _source(tmp_path / "data")
    result = run_cli(capsys, "import", str(source), "--format", "json")
    assert result.exit_code == 0, result.output
    stats = run_cli(capsys, "stats", "--format", "json")
    assert stats.exit_code == 0, stats.output
    vectors = json.loads(stats.stdout)["vectors"]
    assert {
        (v["table"], v["model"], v["dimensions"], v["vectors"], v["stale"]) for v in vectors
    } == {
        (CONTROL_VECTORS, MODEL, 6, 6, 0),
        (RULE_VECTORS, MODEL, 6, 2, 0),
    }
    text_stats = run_cli(capsys, "stats")
    assert f"{CONTROL_VECTORS}" in text_stats.stdout and MODEL in text_stats.stdout
    similar = run_cli(
        capsys, "data", "similar", "control", "1.1", "--limit", "3", "--format", "json"
    )
    assert similar.exit_code == 0, similar.output
    hits = json.loads(similar.stdout)
    assert len(hits) == 3 and "1.1" not in [h["key"] for h in hits]
    missing = run_cli(capsys, "data", "similar", "rule", "no-such-rule")
    assert missing.exit_code == 1 and "no-such-rule" in missing.stderr
    assert "Traceback" not in missing.output
    unknown = run_cli(capsys, "data", "similar", "control", "99.9")
    assert unknown.exit_code == 1 and "error: no control '99.9'" in unknown.stderr
    assert "hint: " in unknown.stderr and "data list controls" in unknown.stderr
