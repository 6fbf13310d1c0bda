"""The optional vectors branch: migrate --with vectors, Alembic from the repository root,
rolling it back, the extensions schema, row-level security, and the HNSW index in use."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sentinel_db.config import get_settings, load_settings
from sentinel_db.importers import import_directory
from sentinel_db.records import embeddings
from sentinel_db.records.embeddings import vector_literal
from sentinel_db.repositories import PciControlRepository
from sentinel_db.runtime.db import Database
from sentinel_db.schema import lints, migrations, rollback, security
from tests.cli_helpers import run_cli
from tests.conftest import EXAMPLES
from tests.test_alembic_cli import alembic, bare_env
from tests.vectors.conftest import create_database, libpq
from tests.vectors.helpers import CONTROLS, seed_text, vector, write_controls, write_embeddings

CONTROL_VECTORS = "pci_dss_controls_embeddings"


@pytest.fixture
def fresh(vector_server: URL) -> URL:
    """An empty, unmigrated database on the embedded server."""
    return create_database(vector_server)


@pytest.fixture
def cli_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Point the in-process CLI at a URL: ``cli_on(url)``."""

    def use(url: URL) -> None:
        for name in list(os.environ):
            if name.startswith(("DATABASE_", "SUPABASE_", "RLS_")):
                monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DATABASE_URL", libpq(url))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def _dump(url: URL) -> str:
    """Schema and data of the database, the pgvector extension left out."""
    import pgserver

    pg_dump = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    return subprocess.run(
        [
            str(pg_dump),
            "--no-owner",
            "--exclude-extension=vector",
            "--restrict-key=sentinel",
            "-d",
            libpq(url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_migrate_with_vectors_adds_the_branch_and_plain_migrate_leaves_it_alone(
    fresh: URL, cli_on: object, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_on(fresh)  # type: ignore[operator]
    dry = run_cli(capsys, "migrate", "--with", "vectors", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "CREATE TABLE pci_dss_controls (" in dry.stdout
    assert f"CREATE TABLE {CONTROL_VECTORS} (" in dry.stdout
    assert migrations.status(Database.from_url(fresh, load_settings(None)).engine).heads == ()
    result = run_cli(capsys, "migrate", "--with", "vectors")
    assert result.exit_code == 0, result.output
    assert "vectors: none -> v0001" in result.stderr
    status = run_cli(capsys, "db", "status")
    assert f"current: {migrations.head()}" in status.stdout and "vectors: v0001" in status.stdout
    assert run_cli(capsys, "migrate").exit_code == 0
    assert (
        migrations.status(Database.from_url(fresh, load_settings(None)).engine).vectors == "v0001"
    )
    # Removing a table never touches the vectors branch, and migrate brings the table back.
    plan = rollback.plan_rollback(
        Database.from_url(fresh, load_settings(None)).engine, tables=["pci_dss_controls"]
    )
    assert "v0001" not in [r.revision for r in plan.revisions]
    removed = run_cli(capsys, "db", "rollback", "pci_dss_controls", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "vectors at v0001" in removed.stderr
    engine = Database.from_url(fresh, load_settings(None)).engine
    with engine.connect() as conn:
        assert conn.execute(
            text(
                "SELECT to_regclass('pci_dss_controls') IS NULL"
                " AND to_regclass('pci_dss_controls_embeddings') IS NOT NULL"
            )
        ).scalar_one()
    assert run_cli(capsys, "migrate").exit_code == 0
    assert migrations.status(engine).up_to_date and migrations.status(engine).vectors == "v0001"
    unknown = run_cli(capsys, "migrate", "--with", "graphs")
    assert unknown.exit_code == 2 and "optional parts: vectors" in unknown.stderr


def test_alembic_from_the_repository_root_upgrades_checks_and_removes_the_branch(
    fresh: URL,
) -> None:
    env = bare_env(DATABASE_URL=libpq(fresh))
    for args in (
        ["-n", "vectors", "upgrade", "head"],  # the vectors history alone: it needs no table
        ["upgrade", "head"],
        ["check"],
        ["-n", "vectors", "downgrade", "base"],
    ):
        proc = alembic(*args, env=env)
        assert proc.returncode == 0, (args, proc.stderr)
    engine = Database.from_url(fresh, load_settings(None)).engine
    state = migrations.status(engine)
    assert (state.current, state.vectors) == (migrations.head(), None)


def test_rolling_the_vectors_branch_back_leaves_the_rest_byte_identical(
    fresh: URL, cli_on: object, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database.from_url(fresh, load_settings(None))
    migrations.upgrade(db.engine)
    import_directory(db, EXAMPLES)
    before = _dump(fresh)
    migrations.upgrade(db.engine, with_vectors=True)
    with db.unit_of_work() as session:
        repo = PciControlRepository(session)
        keys = [c.control_id for c in repo.list(limit=5)]
        repo.upsert_embeddings({k: vector(i, 384) for i, k in enumerate(keys)}, model="m")
    cli_on(fresh)  # type: ignore[operator]
    result = run_cli(capsys, "db", "rollback", "--to", "vectors@base", "--yes")
    assert result.exit_code == 0, result.output
    assert f"{CONTROL_VECTORS}: 5 rows lost" in result.stderr
    assert _dump(fresh) == before
    assert migrations.status(db.engine).vectors is None


def test_a_whole_schema_rollback_keeps_the_vectors_unless_it_goes_to_base(fresh: URL) -> None:
    engine = Database.from_url(fresh, load_settings(None)).engine
    migrations.upgrade(engine, with_vectors=True)
    partial = rollback.plan_rollback(engine, to="0007")
    assert "v0001" not in [r.revision for r in partial.revisions]
    assert rollback.run_rollback(engine, partial).vectors == "v0001"
    everything = rollback.plan_rollback(engine, to="base")
    assert "v0001" in [r.revision for r in everything.revisions]
    after = rollback.run_rollback(engine, everything)
    assert (after.heads, after.vectors) == ((), None)
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT to_regclass('{CONTROL_VECTORS}')")).scalar() is None


def test_the_extension_goes_into_the_extensions_schema_when_there_is_one(fresh: URL) -> None:
    with psycopg.connect(libpq(fresh), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA extensions")
        # As on Supabase: the extensions schema is on every role's search path.
        conn.execute(
            sql.SQL('ALTER DATABASE {} SET search_path = "$user", public, extensions').format(
                sql.Identifier(str(fresh.database))
            )
        )
    db = Database.from_url(fresh, load_settings(None))
    migrations.upgrade(db.engine, with_vectors=True)
    with db.engine.connect() as conn:
        schema = conn.execute(
            text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n"
                " ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
            )
        ).scalar_one()
    assert schema == "extensions"
    with db.unit_of_work() as session:
        seed_text(session)
        repo = PciControlRepository(session)
        repo.upsert_embeddings({k: vector(i, 384) for i, k in enumerate(CONTROLS)}, model="m")
        assert repo.similar_to("1.1", 1)[0].record.control_id != "1.1"


_ROLES = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT; END IF;
END $$
"""


@pytest.mark.parametrize("anon_read", [False, True], ids=["default", "anon-read"])
def test_api_roles_read_vectors_as_they_read_the_reference_tables_and_never_write(
    vector_server: URL, fresh: URL, anon_read: bool
) -> None:
    with psycopg.connect(libpq(vector_server), autocommit=True) as conn:
        conn.execute(_ROLES)
    db = Database.from_url(fresh, load_settings(None))
    migrations.upgrade(db.engine, rls_anon_read=anon_read, with_vectors=True)
    with db.unit_of_work() as session:
        seed_text(session)
        PciControlRepository(session).upsert_embeddings({"1.1": vector(1, 8)}, model="m")
    with psycopg.connect(libpq(fresh)) as conn:
        conn.execute("GRANT USAGE ON SCHEMA public TO anon, authenticated")
        conn.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated")
        for role, expected in (("authenticated", 1), ("anon", 1 if anon_read else 0)):
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            for table in (CONTROL_VECTORS, "pci_dss_controls"):
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE control_id = '1.1'").format(
                        sql.Identifier(table)
                    )
                ).fetchone()
                assert row is not None and row[0] == expected, (role, table)
            with (
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
                conn.transaction(),
            ):
                conn.execute(
                    f"INSERT INTO {CONTROL_VECTORS} (control_id, model, dimensions, embedding,"
                    " content_sha256) VALUES ('1.2', 'm', 2, '[1,2]', 'x')"
                )
            conn.execute("RESET ROLE")
        conn.rollback()


def test_auth_check_and_auth_policies_cover_the_embeddings_tables(
    vector_server: URL, fresh: URL
) -> None:
    with psycopg.connect(libpq(vector_server), autocommit=True) as conn:
        conn.execute(_ROLES)
    db = Database.from_url(fresh, load_settings(None))
    migrations.upgrade(db.engine, with_vectors=True)
    with psycopg.connect(libpq(fresh), autocommit=True) as conn:
        conn.execute(f"GRANT ALL ON {CONTROL_VECTORS} TO anon")
        conn.execute(f"DROP POLICY sentinel_db_authenticated_read ON {CONTROL_VECTORS}")
    with db.engine.connect() as conn:
        found = [str(f) for f in lints.lint(conn)]
    assert any("anon holds SELECT, INSERT" in f and CONTROL_VECTORS in f for f in found), found
    assert f"{CONTROL_VECTORS}.sentinel_db_authenticated_read" in (
        security.security_state(db).missing_policies()
    )
    after = security.apply_policies(db, anon_read=False)
    assert after.missing_policies() == []
    assert CONTROL_VECTORS in [t.name for t in after.tables]
    with db.engine.connect() as conn:
        assert not [str(f) for f in lints.lint(conn) if CONTROL_VECTORS in str(f)]


def _plan(session: Session, dims: int) -> str:
    # With six rows a scan is cheaper; forbid it to see whether an index matches the query.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    rows = session.execute(
        text(
            f"EXPLAIN SELECT e.control_id FROM {CONTROL_VECTORS} e"
            f" WHERE e.dimensions = {dims} AND e.model = 'm'"
            f" ORDER BY (e.embedding::vector({dims})) <=> CAST(:q AS vector({dims})) LIMIT 5"
        ),
        {"q": vector_literal(vector(1, dims))},
    ).scalars()
    return "\n".join(rows)


def test_a_dimension_gets_its_hnsw_index_once_it_has_enough_vectors_and_queries_use_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_text(session)
    repo = PciControlRepository(session)
    monkeypatch.setattr(embeddings, "INDEX_MIN_ROWS", 4)
    repo.upsert_embeddings({k: vector(i, 384) for i, k in enumerate(list(CONTROLS)[:3])}, model="m")
    assert f"ix_{CONTROL_VECTORS}_hnsw_384" not in _plan(session, 384)
    repo.upsert_embeddings({k: vector(i, 384) for i, k in enumerate(CONTROLS)}, model="m")
    assert f"ix_{CONTROL_VECTORS}_hnsw_384" in _plan(session, 384)


def test_the_importer_builds_the_index_when_a_file_brings_enough_vectors(
    vector_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "INDEX_MIN_ROWS", 6)
    write_controls(tmp_path / "pci_dss_controls.csv", CONTROLS)
    write_embeddings(
        tmp_path / f"{CONTROL_VECTORS}.csv",
        "control_id",
        [(k, "m", vector(i, 512)) for i, k in enumerate(CONTROLS)],
    )
    try:
        assert import_directory(vector_db, tmp_path).exit_code == 0
        with vector_db.engine.connect() as conn:
            index = conn.execute(
                text("SELECT to_regclass(:i)::text"), {"i": f"ix_{CONTROL_VECTORS}_hnsw_512"}
            ).scalar_one()
        assert index == f"ix_{CONTROL_VECTORS}_hnsw_512"
    finally:
        with vector_db.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX IF EXISTS ix_{CONTROL_VECTORS}_hnsw_512"))
