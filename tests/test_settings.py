"""Settings: names, defaults, validation that names the variable, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel_db.config import load_settings, mask_url, parse_database_url
from sentinel_db.errors import ConfigError
from sentinel_db.runtime.db import plan_connection

PASSWORD = "Pl4nted-S3cret"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(
            ("DATABASE_", "SUPABASE_", "DB_", "SENTINEL_DB_", "LOG_LEVEL", "ENABLE_SQL")
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_match_the_documented_values() -> None:
    s = load_settings()
    assert (s.db_batch_size, s.db_timeout, s.db_retry_count) == (1000, 30.0, 3)
    assert (s.db_pool_size, s.db_max_overflow) == (10, 20)
    assert (s.log_level, s.enable_sql_logging, s.url) == ("INFO", False, None)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2"])
def test_postgres_urls_are_normalised_to_psycopg3(
    scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://u:p@db.example.com:5432/app")
    url = load_settings().url
    assert url is not None and url.drivername == "postgresql+psycopg"
    assert (url.host, url.database) == ("db.example.com", "app")


def test_supabase_db_url_is_accepted_as_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://u@h/d")
    assert str(load_settings().url) == "postgresql+psycopg://u@h/d"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u:p@h/d"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_READ_URL", "sqlite:///x.db"),
        ("DB_POOL_SIZE", "-1"),
        ("DB_BATCH_SIZE", "0"),
        ("DB_TIMEOUT", "soon"),
        ("DB_RETRY_COUNT", "-2"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_fail_naming_the_variable(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name in info.value.message
    assert value not in info.value.message or value in {"0", "-1", "-2"}


def test_a_bad_url_error_never_contains_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"mysql://user:{PASSWORD}@host/db")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert PASSWORD not in str(info.value)


def test_secrets_never_appear_in_repr_or_masked_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://user:{PASSWORD}@host/db")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-key-" + PASSWORD)
    monkeypatch.setenv("SUPABASE_ANON_KEY", "anon-key-" + PASSWORD)
    monkeypatch.setenv("SUPABASE_URL", "https://project.supabase.co")
    s = load_settings()
    assert PASSWORD not in repr(s) and PASSWORD not in str(s.model_dump())
    assert s.masked_url == "postgresql://user:***@host/db"
    assert set(s.secrets()) == {PASSWORD, "service-key-" + PASSWORD, "anon-key-" + PASSWORD}


def test_env_file_from_variable_and_explicit_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / "custom.env"
    env.write_text("DATABASE_URL=postgresql://a@b/c\nDB_BATCH_SIZE=50\nUNRELATED=1\n")
    monkeypatch.setenv("SENTINEL_DB_ENV_FILE", str(env))
    assert load_settings().db_batch_size == 50
    monkeypatch.delenv("SENTINEL_DB_ENV_FILE")
    assert load_settings(env).db_batch_size == 50
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.env")


def test_mask_url_hides_passwords_in_any_form() -> None:
    assert mask_url(f"postgresql://u:{PASSWORD}@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert PASSWORD not in mask_url(f"postgresql://u@h/d?password={PASSWORD}")
    assert mask_url(None) == "(not set)"


def test_transaction_pooler_urls_turn_prepared_statements_off() -> None:
    from sentinel_db.config import load_settings as ls

    s = ls()
    for raw in (
        "postgresql://u@h.pooler.supabase.com:6543/postgres",
        "postgresql://u@h/d?pgbouncer=true",
    ):
        plan = plan_connection(parse_database_url(raw), s)
        assert plan.pooler and plan.connect_args["prepare_threshold"] is None
        assert "pgbouncer" not in plan.url.query
    direct = plan_connection(parse_database_url("postgresql://u@h:5432/d"), s)
    assert not direct.pooler and "prepare_threshold" not in direct.connect_args


def test_remote_hosts_default_to_ssl_but_localhost_and_explicit_modes_do_not() -> None:
    s = load_settings()
    remote = plan_connection(parse_database_url("postgresql://u@db.example.com/d"), s)
    assert remote.connect_args["sslmode"] == "require"
    local = plan_connection(parse_database_url("postgresql://u@127.0.0.1/d"), s)
    assert "sslmode" not in local.connect_args
    explicit = plan_connection(
        parse_database_url("postgresql://u@db.example.com/d?sslmode=disable"), s
    )
    assert "sslmode" not in explicit.connect_args and explicit.url.query["sslmode"] == "disable"
    chosen = parse_database_url("postgresql://u@db.example.com/d?sslmode=verify-full")
    assert "sslmode" not in plan_connection(chosen, s).connect_args  # the URL's own mode wins
    assert plan_connection(chosen, s).url.query["sslmode"] == "verify-full"
