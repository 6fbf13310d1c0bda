"""Per-invocation CLI state: global options, settings, the database, and secret scrubbing."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sentinel_db.config import Settings
    from sentinel_db.runtime.db import Database


class _Scrubber(logging.Filter):
    """Replaces every known secret in log records with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class _Formatter(logging.Formatter):
    """``warning: message`` like the CLI's own lines; other libraries' records name their logger."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        level = record.levelname.lower()
        if record.name.startswith("sentinel_db") and record.levelno >= logging.WARNING:
            return f"{level}: {text}"
        return f"{level} {record.name}: {text}"


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass
class CliState:
    """Global options of one invocation, and what is built from them on demand."""

    verbose: bool = False
    quiet: bool = False
    config: Path | None = None
    database_url: str | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _database: Database | None = field(default=None, repr=False)
    secrets: list[str] = field(default_factory=list, repr=False)
    _direct_urls: dict[bool, str | None] = field(default_factory=dict, repr=False)

    @property
    def env_file(self) -> Path | None:
        """The ``.env`` file in use, if any."""
        from sentinel_db.config import default_env_file

        return self.config or default_env_file()

    def settings(self) -> Settings:
        """Settings from the environment, ``--config`` and ``--database-url``."""
        if self._settings is None:
            from sentinel_db.config import load_settings

            overrides: dict[str, object] = {}
            if self.database_url:
                overrides["database_url"] = self.database_url
            self._settings = load_settings(self.config, **overrides)
            self.secrets.extend(self._settings.secrets())
            _configure_logging(self._settings, self)
        return self._settings

    def database(self) -> Database:
        """The database to work on (embedded when no URL is configured)."""
        if self._database is None:
            from sentinel_db.runtime.db import Database

            self._database = Database.from_settings(self.settings())
        return self._database

    @contextmanager
    def session(self, *, read_only: bool = True) -> Iterator[Any]:
        """A session for one short piece of work, committed at the end unless it failed.

        A direct psycopg connection when the settings allow one, so a quick read loads no
        SQLAlchemy; a unit of work of :meth:`database` once that is open (or when the embedded
        server's folder is brand new and must be migrated first).
        """
        from sentinel_db.runtime.direct import direct_session, direct_url

        settings = self.settings()
        raw = None
        if self._database is None:
            # Once per invocation: finding the embedded server's URL checks on its process.
            key = read_only or settings.database_read_url is None
            if key not in self._direct_urls:
                self._direct_urls[key] = direct_url(settings, read_only=read_only)
            raw = self._direct_urls[key]
        if raw is None:
            with self.database().unit_of_work(read_only=read_only) as session:
                yield session
            return
        with direct_session(raw, settings, read_only=read_only) as direct:
            yield direct


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not when the handler was made:
    a caller that swaps stderr (a test capturing output, a wrapper) never leaves it writing to a
    closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_handler: logging.Handler | None = None


def _configure_logging(settings: Settings, state: CliState) -> None:
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = _StderrHandler()
    _handler.setFormatter(_Formatter())
    _handler.addFilter(_Scrubber(state.secrets))
    root.addHandler(_handler)
    if state.quiet:
        ours, others = logging.ERROR, logging.ERROR
    elif state.verbose:
        ours, others = logging.DEBUG, logging.INFO
    else:
        # Other libraries' INFO chatter (Alembic, the embedded server) is not for users.
        ours, others = getattr(logging, settings.log_level), logging.WARNING
    root.setLevel(others)
    logging.getLogger("sentinel_db").setLevel(ours)
    for name in ("alembic", "pgserver", "sqlalchemy"):
        logging.getLogger(name).setLevel(others)
    if settings.enable_sql_logging:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)


_current: CliState | None = None


def get_state(ctx: typer.Context) -> CliState:
    """The :class:`CliState` of this invocation."""
    global _current
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    _current = root.obj
    return root.obj


def current_state() -> CliState:
    """The state of the invocation running now (an empty one before options are parsed)."""
    return _current or CliState()
