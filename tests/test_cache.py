"""The repository cache is exact: every committed write, from anywhere, is seen by the next
unit of work; rolled-back writes change nothing; it stays within its bounds; values are frozen."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import URL

from sentinel_db.config import load_settings
from sentinel_db.errors import NotFoundError
from sentinel_db.records.models import PciControl as PciControlRow
from sentinel_db.records.rows import PciControl
from sentinel_db.repositories import PciAwsConfigMappingRepository, PciControlRepository
from sentinel_db.repositories.tables import clear_tables
from sentinel_db.runtime.cache import VERSION_CHECK, RepositoryCache
from sentinel_db.runtime.db import Database, create_db_engine
from sentinel_db.runtime.metrics import metrics_of
from tests.cli_helpers import run_cli, run_subprocess


def _control(key: str, chunk: str, requirement: str = "1") -> dict[str, object]:
    return {
        "control_id": key,
        "requirement": f"Requirement {requirement}",
        "chunk": chunk,
        "metadata": {"requirements_id": requirement, "tags": ["a", {"b": 1}]},
    }


def _write(db: Database, *rows: dict[str, object]) -> None:
    with db.unit_of_work() as session:
        PciControlRepository(session).upsert_many(rows)


def _chunk(db: Database, key: str) -> str | None:
    with db.unit_of_work(read_only=True) as session:
        found = PciControlRepository(session).find_by_key(key)
        return None if found is None else found.chunk


@pytest.fixture
def cached(clean_db: Database, app_url: URL) -> Database:
    """A Database with the cache on; ``clean_db`` (no cache) is the other writer."""
    return Database.from_url(app_url, load_settings(None), cache=True)


def test_db_cache_setting_turns_the_cache_on(app_url: URL, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_CACHE", "true")
    monkeypatch.setenv("DB_CACHE_MAX_ENTRIES", "7")
    cache = Database.from_url(app_url, load_settings(None)).cache
    assert cache is not None and cache.max_entries == 7
    assert Database.from_url(app_url, load_settings(None), cache=False).cache is None
    monkeypatch.delenv("DB_CACHE")
    assert Database.from_url(app_url, load_settings(None)).cache is None


def test_another_database_object_upserting_deleting_and_clearing_is_seen_every_time(
    cached: Database, clean_db: Database
) -> None:
    assert cached.cache is not None
    for n in range(8):
        _write(clean_db, _control("1.1", f"version {n}"))
        assert _chunk(cached, "1.1") == f"version {n}"
        assert _chunk(cached, "1.1") == f"version {n}"  # served from memory
    with clean_db.unit_of_work() as session:
        PciControlRepository(session).delete("1.1")
    assert _chunk(cached, "1.1") is None
    _write(clean_db, _control("1.1", "back"))
    assert _chunk(cached, "1.1") == "back"
    with clean_db.unit_of_work() as session:
        clear_tables(session, ("pci_dss_controls",))
    assert _chunk(cached, "1.1") is None
    figures = cached.cache.figures()
    assert figures.hits >= 8
    assert figures.invalidations >= 10


_UPSERT_SCRIPT = """
import sys
from sentinel_db.config import load_settings
from sentinel_db.runtime.db import Database
from sentinel_db.repositories import PciControlRepository
db = Database.from_url(sys.argv[1], load_settings(None))
with db.unit_of_work() as session:
    PciControlRepository(session).upsert_many(
        [{"control_id": "1.1", "requirement": "R", "chunk": sys.argv[2], "metadata": {}}]
    )
"""


def test_another_process_importing_upserting_and_clearing_is_seen_by_the_next_unit_of_work(
    cached: Database, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _write(cached, _control("1.1", "original"))
    assert _chunk(cached, "1.1") == "original"
    assert _chunk(cached, "1.1") == "original"

    csv = tmp_path / "pci_dss_controls.csv"
    csv.write_text('control_id,requirement,chunk,metadata\n1.1,R,imported,"{}"\n', "utf-8")
    imported = run_subprocess("import", str(csv), "--no-progress", env=cli_env)
    assert imported.exit_code == 0, imported.output
    assert _chunk(cached, "1.1") == "imported"

    url = cli_env["DATABASE_URL"]
    subprocess.run([sys.executable, "-c", _UPSERT_SCRIPT, url, "upserted"], check=True)
    assert _chunk(cached, "1.1") == "upserted"
    assert _chunk(cached, "1.1") == "upserted"

    cleared = run_subprocess("data", "clear", "controls", "--yes", env=cli_env)
    assert cleared.exit_code == 0, cleared.output
    assert _chunk(cached, "1.1") is None
    assert cached.cache is not None and cached.cache.figures().hits >= 2


def _version(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT version FROM sentinel_db.data_versions"
                    " WHERE table_name = 'pci_dss_controls'"
                )
            ).scalar_one()
        )


def test_a_unit_of_work_that_lags_behind_neither_reads_nor_replaces_newer_entries() -> None:
    cache = RepositoryCache()
    cache.observe({"pci_dss_controls": 5})
    cache.put("key", (("pci_dss_controls", 5),), "new")
    cache.observe({"pci_dss_controls": 4})  # e.g. a replica that has not caught up
    assert cache.get("key", {"pci_dss_controls": 4}) == (False, None)
    cache.put("key", (("pci_dss_controls", 4),), "old")
    assert cache.get("key", {"pci_dss_controls": 5}) == (True, "new")
    assert cache.invalidations == 0


def test_a_rolled_back_write_neither_advances_the_version_nor_invalidates(
    cached: Database, clean_db: Database
) -> None:
    assert cached.cache is not None
    _write(clean_db, _control("1.1", "kept"))
    assert _chunk(cached, "1.1") == "kept"
    version, before = _version(clean_db), cached.cache.figures()

    with pytest.raises(RuntimeError), clean_db.unit_of_work() as session:
        PciControlRepository(session).upsert_many([_control("1.1", "never committed")])
        raise RuntimeError("abandon the work")

    assert _chunk(cached, "1.1") == "kept"
    after = cached.cache.figures()
    assert _version(clean_db) == version
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
    assert after.invalidations == before.invalidations


def test_each_commit_advances_the_version_once_and_writers_do_not_wait_for_each_other(
    clean_db: Database,
) -> None:
    start = _version(clean_db)
    with clean_db.unit_of_work() as first:
        # Three statements, one transaction: one step.
        PciControlRepository(first).upsert_many(
            [_control(f"1.{i}", "first") for i in range(3)], batch_size=1
        )
        with clean_db.unit_of_work() as second:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            PciControlRepository(second).upsert_many([_control("2.1", "second")])
        assert _version(clean_db) == start + 1  # the second committed; the first not yet
    assert _version(clean_db) == start + 2


def test_a_warm_unit_of_work_costs_one_version_check_and_no_other_statement(
    cached: Database, clean_db: Database
) -> None:
    _write(clean_db, _control("1.1", "firewall settings"), _control("1.2", "password length"))

    def _reads() -> None:
        with cached.unit_of_work(read_only=True) as session:
            controls = PciControlRepository(session)
            controls.get_by_control_id("1.1")
            controls.by_requirement("1")
            controls.search("password")
            PciAwsConfigMappingRepository(session).coverage()
            with pytest.raises(NotFoundError):
                controls.get_by_control_id("9.9")

    _reads()
    before = metrics_of(cached.engine).queries()
    _reads()
    after = metrics_of(cached.engine).queries()
    ran = {k: after[k][0] - before.get(k, (0, 0.0, []))[0] for k in after}
    assert {k: n for k, n in ran.items() if n} == {VERSION_CHECK: 1}


def test_the_version_check_runs_on_the_read_replica(clean_db: Database, app_url: URL) -> None:
    settings = load_settings(None)
    primary, replica = create_db_engine(app_url, settings), create_db_engine(app_url, settings)
    db = Database(primary, read_engine=replica, cache=RepositoryCache())
    try:
        _write(db, _control("1.1", "on both"))
        assert _chunk(db, "1.1") == "on both"
        assert _chunk(db, "1.1") == "on both"
        assert metrics_of(replica).queries()[VERSION_CHECK][0] == 2
        assert VERSION_CHECK not in metrics_of(primary).queries()
    finally:
        primary.dispose()
        replica.dispose()


def test_writing_work_reads_its_own_rows_not_the_cache(cached: Database) -> None:
    _write(cached, _control("1.1", "committed"))
    assert _chunk(cached, "1.1") == "committed"
    with cached.unit_of_work() as session:
        controls = PciControlRepository(session)
        controls.update("1.1", chunk="changed in this transaction")
        row = controls.get_by_control_id("1.1")
        assert isinstance(row, PciControlRow)
        assert row.chunk == "changed in this transaction"
    assert _chunk(cached, "1.1") == "changed in this transaction"


def test_cached_records_cannot_be_changed_by_their_readers(
    cached: Database, clean_db: Database
) -> None:
    _write(clean_db, _control("1.1", "text"))
    with clean_db.unit_of_work() as session:
        PciAwsConfigMappingRepository(session).upsert_many(
            [{"control_id": "1.1", "config_rules": ["rule-a", {"rule": "rule-b"}]}]
        )
    for _ in range(2):  # the first read stores, the second is served from the cache
        with cached.unit_of_work(read_only=True) as session:
            control = PciControlRepository(session).get_by_control_id("1.1")
            listed = PciControlRepository(session).by_requirement("1")
            mapping = PciAwsConfigMappingRepository(session).get_by_key("1.1")
            coverage = PciAwsConfigMappingRepository(session).coverage()
        assert isinstance(control, PciControl)
        with pytest.raises(ValidationError):
            control.chunk = "changed"  # type: ignore[misc]
        with pytest.raises(TypeError):
            control.metadata["requirements_id"] = "2"
        with pytest.raises(TypeError):
            control.metadata["tags"].append("c")
        with pytest.raises(TypeError):
            control.metadata["tags"][1]["b"] = 2
        with pytest.raises(TypeError):
            mapping.config_rules.append("rule-c")
        with pytest.raises(TypeError):
            coverage.controls_without_rules.append("x")
        listed.append(control)  # the caller's own list
        assert len(listed) == 2
        assert control.model_dump()["metadata"] == {"requirements_id": "1", "tags": ["a", {"b": 1}]}
    assert cached.cache is not None and cached.cache.figures().hits >= 4


def test_the_cache_stays_within_its_bounds_and_exact_under_a_long_random_workload(
    clean_db: Database, app_url: URL
) -> None:
    rng = random.Random(1313)
    keys = [f"{r}.{i}" for r in range(1, 5) for i in range(15)]
    _write(clean_db, *(_control(k, f"{k} initial text", k.split(".")[0]) for k in keys))
    cache = RepositoryCache(max_entries=20, max_bytes=16_000)
    db = Database(clean_db.engine, cache=cache)
    truth = {k: f"{k} initial text" for k in keys}
    for step in range(250):
        if rng.random() < 0.15:
            key = rng.choice(keys)
            truth[key] = f"{key} text {step}"
            _write(clean_db, _control(key, truth[key], key.split(".")[0]))
        with db.unit_of_work(read_only=True) as session:
            controls = PciControlRepository(session)
            for _ in range(rng.randint(1, 4)):
                if rng.random() < 0.7:
                    key = rng.choice(keys)
                    assert controls.get_by_control_id(key).chunk == truth[key]
                else:
                    requirement = str(rng.randint(1, 4))
                    got = {c.control_id: c.chunk for c in controls.by_requirement(requirement)}
                    assert got == {
                        k: v for k, v in truth.items() if k.startswith(f"{requirement}.")
                    }
        assert len(cache) <= 20
        assert cache.bytes <= 16_000
    figures = cache.figures()
    assert figures.evictions > 0 and figures.hits > 0 and figures.invalidations > 0


def test_it_all_works_through_a_transaction_pooler(clean_db: Database, pooler_url: URL) -> None:
    cached = Database.from_url(pooler_url, load_settings(None), cache=True)
    writer = Database.from_url(pooler_url, load_settings(None))
    for n in range(5):
        _write(writer, _control("1.1", f"pooled {n}"))
        assert _chunk(cached, "1.1") == f"pooled {n}"
        assert _chunk(cached, "1.1") == f"pooled {n}"
    _write(clean_db, _control("1.1", "direct"))
    assert _chunk(cached, "1.1") == "direct"
    assert cached.cache is not None and cached.cache.figures().hits >= 5


def test_the_cli_answers_the_same_with_the_cache_on(
    clean_db: Database,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _write(clean_db, _control("1.1", "firewall settings"), _control("1.2", "password length"))
    with clean_db.unit_of_work() as session:
        PciAwsConfigMappingRepository(session).upsert_many(
            [{"control_id": "1.1", "config_rules": ["rule-a"]}]
        )
    commands = [
        ("data", "list", "controls", "--format", "json"),
        ("data", "show", "control", "1.1", "--format", "json"),
        ("data", "search", "password", "--table", "controls"),
        ("data", "show", "control", "9.9"),
    ]
    plain = [run_cli(capsys, *c) for c in commands]
    monkeypatch.setenv("DB_CACHE", "true")
    # Each command's reads now come back as frozen records from the cache, not as ORM rows.
    assert [run_cli(capsys, *c) for c in commands] == plain


def test_a_cached_search_still_says_how_it_was_found(
    cached: Database,
    clean_db: Database,
    cli_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write(clean_db, _control("1.1", "firewall rules are reviewed"))
    for _ in range(2):  # computed, then served from memory
        with cached.unit_of_work(read_only=True) as session:
            hits = PciControlRepository(session).search("firewall")
        assert [h.record.control_id for h in hits] == ["1.1"]
        assert (hits.mode, hits.note) == ("lexical", None)
    assert cached.cache is not None and cached.cache.figures().hits >= 1
    cli_env["DB_CACHE"] = "true"
    for _ in range(2):
        result = run_subprocess("data", "search", "firewall", env=cli_env)
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        assert "1.1" in result.stdout
