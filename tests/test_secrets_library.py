"""Library use, no CLI in between: logs at DEBUG, errors and reprs never hold a password or key.

The CLI's log handler scrubs what it prints; these tests go around it, the way a service using
sentinel-db as a library would (``logging.basicConfig(level=logging.DEBUG)``), so whatever is
masked here is masked at the source.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator

import pytest
from pydantic import AliasChoices, Field, SecretStr
from sqlalchemy.engine import URL

from sentinel_db.config import Settings, load_settings
from sentinel_db.errors import ConnectionFailedError, SentinelDBError
from sentinel_db.redact import library_logger, redact
from sentinel_db.runtime.db import Database
from sentinel_db.runtime.engine import plan_connection
from tests.tcp_proxy import dropping_proxy

# 127.0.0.1 trusts every password, so the planted one travels the whole way to the server.
PASSWORD = "Lib-Planted-S3cret"
API_KEY = "emb-planted-api-key-5c1f0e"


class _Raw(logging.Filter):
    """Keeps what a library logger receives, before its redacting filter runs."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.received.append(f"{record.msg} {record.args!r}")
        return True


class Captured:
    """What one test logged: as handlers printed it, and as library loggers received it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.raw = _Raw()


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[Captured]:
    """Every logger at DEBUG into a plain handler on the root logger, as basicConfig sets up."""
    captured = Captured()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    # The library's own level too: a CLI run earlier in the process may have raised it.
    caplog.set_level(logging.DEBUG, logger="sentinel_db")
    library = [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if name.startswith("sentinel_db") and isinstance(logger, logging.Logger)
    ]
    for logger in library:
        logger.filters.insert(0, captured.raw)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        for logger in library:
            logger.removeFilter(captured.raw)


def _address(url: URL) -> tuple[str, int]:
    socket_dir = url.query.get("host")
    host = socket_dir if isinstance(socket_dir, str) else (url.host or "127.0.0.1")
    return host, url.port or 5432


def _url_through(app_url: URL, port: int) -> str:
    query = {k: v for k, v in app_url.query.items() if k != "host"}
    url = app_url.set(
        host="127.0.0.1", port=port, password=PASSWORD, query={**query, "sslmode": "disable"}
    )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _everything_logged(caplog: pytest.LogCaptureFixture, captured: Captured) -> str:
    parts = [captured.stream.getvalue(), caplog.text, *captured.raw.received]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    return "\n".join(parts)


def test_retries_and_a_give_up_logged_at_debug_never_hold_the_password(
    app_url: URL, debug_log: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = _address(app_url)
    settings = load_settings(None, db_retry_count=3, db_timeout=3)
    with dropping_proxy(host, port, drop=2) as proxy_port:
        db = Database.from_url(_url_through(app_url, proxy_port), settings)
        try:
            assert db.health_check().server_version
        finally:
            db.engine.dispose()
    with dropping_proxy(host, port, drop=10) as proxy_port:
        db = Database.from_url(
            _url_through(app_url, proxy_port), load_settings(None, db_retry_count=1)
        )
        try:
            with pytest.raises(ConnectionFailedError) as caught:
                db.health_check()
        finally:
            db.engine.dispose()
    logged = _everything_logged(caplog, debug_log)
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    given_up = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
    assert len(retries) == 3 and len(given_up) == 1  # two before success, one before giving up
    assert all("postgres" in m and ":***@127.0.0.1" in m for m in retries + given_up)
    assert PASSWORD not in logged
    assert any("giving up" in m for m in debug_log.raw.received)  # the source was watched too
    error = caught.value
    shown = [str(error), repr(error), error.hint or "", *traceback.format_exception(error)]
    assert error.message.startswith("cannot connect to postgresql://")
    assert all(PASSWORD not in text for text in shown)


def test_reprs_of_settings_database_engine_and_plan_hold_no_password(database_url: URL) -> None:
    raw = database_url.set(password=PASSWORD, drivername="postgresql").render_as_string(
        hide_password=False
    )
    settings = load_settings(None, database_url=raw, supabase_service_role_key=API_KEY)
    db = Database.from_url(raw, settings)
    try:
        assert settings.url is not None
        texts = [
            repr(settings),
            str(settings),
            repr(settings.url),
            str(settings.url),
            repr(db.engine),
            repr(plan_connection(settings.url, settings)),
            db.masked_url,
            settings.masked_url,
        ]
    finally:
        db.engine.dispose()
    for text in texts:
        assert PASSWORD not in text and API_KEY not in text, text


class _SettingsWithKey(Settings):
    """Settings with one more secret, as a new provider setting would add."""

    embedding_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("EMBEDDING_API_KEY")
    )


def test_a_secret_setting_of_any_name_is_masked_in_library_logs_and_errors(
    debug_log: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _SettingsWithKey(EMBEDDING_API_KEY=API_KEY)
    assert API_KEY in settings.secrets()
    log = library_logger("sentinel_db.test")
    log.debug("calling the provider with key %s", API_KEY)
    try:
        raise RuntimeError(f"provider refused key {API_KEY}")
    except RuntimeError:
        log.exception("embedding failed")
    error = SentinelDBError(f"provider refused {API_KEY}", hint=f"check {API_KEY}")
    # This test hands the key to a logger on purpose: what handlers saw is what counts here.
    logged = "\n".join([debug_log.stream.getvalue(), caplog.text])
    assert "calling the provider with key ***" in logged
    assert "provider refused key ***" in logged  # the traceback's text too
    assert API_KEY not in logged
    assert (error.message, error.hint) == ("provider refused ***", "check ***")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://app:pw9@db.example.com:5432/x",
            "postgresql://app:***@db.example.com:5432/x",
        ),
        (
            "postgresql+psycopg://u:p%40ss@h/db?sslmode=require",
            "postgresql+psycopg://u:***@h/db?sslmode=require",
        ),
        ("host=h user=u password=hunter22 dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='a b c' port=5", "host=h password=*** port=5"),
        (
            "https://api.example.com/v1?api_key=abc123&x=1",
            "https://api.example.com/v1?api_key=***&x=1",
        ),
        ("password authentication failed for user u", "password authentication failed for user u"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_redact_masks_url_passwords_and_secret_pairs_and_nothing_else(
    text: str, expected: str
) -> None:
    assert redact(text) == expected
