"""The embedded PostgreSQL used when no DATABASE_URL is configured (the ``[embedded]`` extra)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel_db.errors import ConfigError, ConnectionFailedError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from sentinel_db.config import Settings

log = logging.getLogger("sentinel_db")

_INSTALL_HINT = (
    "set DATABASE_URL to your PostgreSQL/Supabase database, "
    "or install the embedded server: pip install 'sentinel-db[embedded]'"
)


def default_data_dir() -> Path:
    """The per-user folder the embedded server keeps its data in.

    As root the server runs as a separate system user and opens up every parent folder for
    traversal, so root's data lives under /var/lib rather than in /root.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/sentinel-db/embedded")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sentinel-db" / "embedded"


def start_embedded(data_dir: Path | None = None, *, cleanup_mode: str | None = None) -> Any:
    """Start (or reuse) the embedded server in ``data_dir`` and return the pgserver handle.

    ``cleanup_mode=None`` leaves the server running for the next command to reuse.

    Raises:
        ConfigError: the ``[embedded]`` extra is not installed.
        ConnectionFailedError: the server could not be started.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        raise ConfigError("no DATABASE_URL is configured", hint=_INSTALL_HINT) from exc
    path = data_dir or default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, CI, containers); harmless.
            warnings.simplefilter("ignore")
            return pgserver.get_server(path, cleanup_mode=cleanup_mode)  # type: ignore[attr-defined]
    except Exception as exc:
        raise ConnectionFailedError(
            f"could not start the embedded PostgreSQL in {path}", hint=_INSTALL_HINT
        ) from exc


def embedded_url(data_dir: Path | None = None) -> str:
    """A connection URL for the embedded server, starting it if needed."""
    server = start_embedded(data_dir)
    return str(server.get_uri())


_migrated: set[str] = set()


def open_embedded_url(settings: Settings) -> URL:
    """Start the embedded server, migrate it on first use, and return its URL.

    Only the embedded database is ever migrated implicitly; a configured one waits for
    ``sentinel-db migrate``.
    """
    from sentinel_db.config import parse_database_url

    data_dir = settings.embedded_dir or default_data_dir()
    url = parse_database_url(embedded_url(data_dir))
    key = str(data_dir)
    if key not in _migrated:
        log.warning(
            "using the embedded PostgreSQL in %s (no DATABASE_URL set; set it to use Supabase)",
            data_dir,
        )
        from sentinel_db.migrations import upgrade_if_behind

        upgrade_if_behind(url, settings)
        _migrated.add(key)
    return url
