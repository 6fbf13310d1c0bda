"""On a server without pgvector (the PostgreSQL 15 of CI): the vectors branch is refused
clearly, nothing changes, and everything else keeps working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import get_settings, load_settings
from sentinel_db.errors import MigrationError
from sentinel_db.repositories import PciControlRepository
from sentinel_db.runtime.db import Database
from sentinel_db.schema import migrations
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES, REPO_ROOT


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def no_pgvector(fresh_database: URL, monkeypatch: pytest.MonkeyPatch) -> URL:
    """A fresh database on a server without the vector extension; the CLI points at it."""
    engine = Database.from_url(fresh_database, load_settings(None)).engine
    with engine.connect() as conn:
        available = conn.execute(
            text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
        ).scalar_one()
    if available:
        pytest.fail("this test needs a server without pgvector (the PostgreSQL 15 of CI)")
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "SUPABASE_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", _libpq(fresh_database))
    get_settings.cache_clear()
    return fresh_database


def _tables(url: URL) -> set[str]:
    engine = Database.from_url(url, load_settings(None)).engine
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return {str(r[0]) for r in rows}


def test_migrate_with_vectors_is_refused_naming_the_extension_and_changes_nothing(
    no_pgvector: URL, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "migrate", "--with", "vectors")
    assert result.exit_code == 1
    assert "extension 'vector' (pgvector)" in result.stderr
    assert "apt-get install postgresql-15-pgvector" in result.stderr
    assert "Traceback" not in result.output
    assert _tables(no_pgvector) == set()  # not even the core schema was applied
    dry = run_cli(capsys, "migrate", "--with", "vectors", "--dry-run")
    assert dry.exit_code == 1 and "pgvector" in dry.stderr
    assert run_cli(capsys, "migrate").exit_code == 0
    before = _tables(no_pgvector)
    again = run_cli(capsys, "migrate", "--with", "vectors")
    assert again.exit_code == 1 and _tables(no_pgvector) == before
    state = migrations.status(Database.from_url(no_pgvector, load_settings(None)).engine)
    assert (state.current, state.vectors) == (migrations.head(), None)


def test_alembic_upgrade_of_the_vectors_branch_is_refused_and_rolled_back(
    no_pgvector: URL,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "alembic", "-n", "vectors", "upgrade", "head"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "pgvector" in proc.stdout + proc.stderr
    assert _tables(no_pgvector) == set()  # nothing was created, not even its version table


def test_without_the_vectors_branch_everything_else_works_and_vector_calls_say_what_to_do(
    no_pgvector: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "migrate").exit_code == 0
    data = tmp_path / "data"
    data.mkdir()
    for source in EXAMPLES.rglob("*.csv"):
        (data / source.name).write_bytes(source.read_bytes())
    (data / "pci_dss_controls_embeddings.csv").write_text(
        'control_id,model,embedding\n1.1,m,"[0.1, 0.2]"\n', encoding="utf-8"
    )
    result = run_cli(capsys, "import", str(data), "--format", "json")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "the vectors schema is not installed" in result.stderr
    assert "migrate --with vectors" in result.stderr
    # The text files come first, each in its own transaction, and stay imported.
    with Database.from_url(no_pgvector, load_settings(None)).engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pci_dss_controls")).scalar_one() > 0
    stats = run_cli(capsys, "stats", "--format", "json")
    assert stats.exit_code == 0 and '"vectors": null' in stats.stdout
    similar = run_cli(capsys, "data", "similar", "control", "1.1")
    assert similar.exit_code == 1 and "migrate --with vectors" in similar.stderr
    assert "Traceback" not in similar.output
    db = Database.from_url(no_pgvector, load_settings(None))
    with db.unit_of_work(read_only=True) as session:
        repo = PciControlRepository(session)
        assert repo.search("password", 3)  # lexical search is untouched
        with pytest.raises(MigrationError, match="vectors schema is not installed"):
            repo.search("password", 3, embedding=[0.1, 0.2], model="m")
