"""The embedded PostgreSQL used when no DATABASE_URL is configured (the ``[embedded]`` extra).

The server is pgserver's PostgreSQL in a per-user data folder. It is started on first use and
left running, so later commands connect at once; :func:`status` describes it without starting
it, and :func:`stop` shuts it down. As root, pgserver runs PostgreSQL as a system user called
``pgserver`` (PostgreSQL refuses to run as root), which it creates on first use.

A new data folder gets settings for a small local server: WAL is kept to a few segments (PostgreSQL's
defaults keep up to 1 GB between checkpoints), so the folder stays close to the size of its data.
This module knows nothing of engines or migrations: :mod:`sentinel_db.runtime.db` migrates a
new server once, and never touches an existing one.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel_db.errors import ConfigError, ConnectionFailedError, SentinelDBError
from sentinel_db.redact import library_logger

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

log = library_logger("sentinel_db.db")

_INSTALL_HINT = (
    "set DATABASE_URL to your PostgreSQL/Supabase database, "
    "or install the embedded server: pip install 'sentinel-db[embedded]'"
)
SYSTEM_USER = "pgserver"


def default_data_dir() -> Path:
    """The per-user folder the embedded server keeps its data in.

    As root the server runs as a separate system user and opens up every parent folder for
    traversal, so root's data lives under /var/lib rather than in /root.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/sentinel-db/embedded")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sentinel-db" / "embedded"


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        raise ConfigError("no DATABASE_URL is configured", hint=_INSTALL_HINT) from exc
    return pgserver


# Reloadable settings for a small local server (no restart needed): a checkpoint after every
# 32 MB of WAL, and 32 MB kept for reuse (PostgreSQL's minimum is two 16 MB segments).
SMALL_SERVER_SETTINGS: dict[str, str] = {"max_wal_size": "32MB", "min_wal_size": "32MB"}


def is_initialised(data_dir: Path | None = None) -> bool:
    """True when ``data_dir`` already holds a PostgreSQL cluster."""
    return ((data_dir or default_data_dir()) / "PG_VERSION").is_file()


def _tune(server: Any, path: Path) -> None:
    """Apply :data:`SMALL_SERVER_SETTINGS` once (they live in ``postgresql.auto.conf``)."""
    auto = path / "postgresql.auto.conf"
    try:
        current = auto.read_text(encoding="utf-8")
    except OSError:
        current = ""
    if all(f"{name} = '{value}'" in current for name, value in SMALL_SERVER_SETTINGS.items()):
        return
    for name, value in SMALL_SERVER_SETTINGS.items():
        server.psql(f"ALTER SYSTEM SET {name} = '{value}'")
    server.psql("SELECT pg_reload_conf()")


def start_embedded(data_dir: Path | None = None, *, cleanup_mode: str | None = None) -> Any:
    """Start (or reuse) the embedded server in ``data_dir`` and return the pgserver handle.

    ``cleanup_mode=None`` leaves the server running for the next command to reuse.

    Raises:
        ConfigError: the ``[embedded]`` extra is not installed.
        ConnectionFailedError: the server could not be started.
    """
    pgserver = _pgserver()
    path = data_dir or default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, CI, containers); harmless.
            warnings.simplefilter("ignore")
            server = pgserver.get_server(path, cleanup_mode=cleanup_mode)
            _tune(server, path)
            return server
    except Exception as exc:
        raise ConnectionFailedError(
            f"could not start the embedded PostgreSQL in {path}", hint=_INSTALL_HINT
        ) from exc


_announced: set[str] = set()


def announce(data_dir: Path) -> None:
    """Say once per process and folder that the embedded server is in use (one line at 80
    columns: the folder is in `sentinel-db embedded status`)."""
    if str(data_dir) not in _announced:
        log.warning("no DATABASE_URL set: using the embedded PostgreSQL")
        _announced.add(str(data_dir))


def embedded_url(data_dir: Path | None = None) -> str:
    """A connection URL for the embedded server, starting it if needed."""
    return _running_url(data_dir or default_data_dir()) or str(start_embedded(data_dir).get_uri())


def _running_url(path: Path) -> str | None:
    """The URL of the server running and ready in ``path``, read from its ``postmaster.pid``
    (what the embedded server's own lookup would give, without loading it), or None."""
    found = _postmaster(path)
    if found is None or found[4] != "ready":
        return None
    _pid, port, socket_dir, _listen, _state = found
    if socket_dir is None:
        return None
    return f"postgresql://postgres:@/postgres?host={socket_dir}" + (
        f"&port={port}" if port not in (None, 5432) else ""
    )


def _postmaster(path: Path) -> tuple[int, int | None, str | None, str | None, str] | None:
    """pid, port, socket folder, listen address and state of the live postmaster in ``path``."""
    pidfile = path / "postmaster.pid"
    try:
        lines = pidfile.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shared memory
    # key, state (PostgreSQL's layout)
    if len(lines) < 5 or not lines[0].strip().isdigit() or not _alive(int(lines[0])):
        return None
    return (
        int(lines[0]),
        int(lines[3]) if lines[3].strip().isdigit() else None,
        lines[4].strip() or None,
        (lines[5].strip() if len(lines) > 5 else "") or None,
        lines[7].strip() if len(lines) > 7 else "",
    )


def open_url(data_dir: Path | None = None) -> URL:
    """The embedded server's URL for SQLAlchemy (psycopg 3), starting the server if needed."""
    from sentinel_db.config import parse_database_url

    return parse_database_url(embedded_url(data_dir))


@dataclass(frozen=True)
class EmbeddedStatus:
    """What :func:`status` found in a data folder."""

    data_dir: str
    initialised: bool
    running: bool
    version: str | None
    pid: int | None
    port: int | None
    socket_dir: str | None
    size_bytes: int
    system_user: str | None
    listen_address: str | None = None  # None: the server listens on its socket only

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape of `embedded status --format json`)."""
        return asdict(self)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def _folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:  # a file removed while we walk (WAL recycling)
                continue
    return total


def status(data_dir: Path | None = None) -> EmbeddedStatus:
    """Describe the embedded server in ``data_dir`` without starting it."""
    path = data_dir or default_data_dir()
    version_file = path / "PG_VERSION"
    initialised = version_file.is_file()
    found = _postmaster(path)
    pid, port, socket_dir, listen = found[:4] if found is not None else (None, None, None, None)
    return EmbeddedStatus(
        data_dir=str(path),
        initialised=initialised,
        running=pid is not None,
        version=version_file.read_text(encoding="utf-8").strip() if initialised else None,
        pid=pid,
        port=port,
        socket_dir=socket_dir,
        size_bytes=_folder_size(path) if path.is_dir() else 0,
        system_user=SYSTEM_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None,
        listen_address=listen,
    )


def stop(data_dir: Path | None = None, *, timeout: float = 60) -> bool:
    """Stop the embedded server in ``data_dir`` (a fast shutdown); False if it was not running.

    Raises:
        SentinelDBError: the server did not stop within ``timeout`` seconds.
    """
    before = status(data_dir)
    if not before.running:
        return False
    pgserver = _pgserver()
    try:
        pgserver.pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=Path(before.data_dir),
            user=before.system_user,
            timeout=timeout,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        if status(data_dir).running:
            raise SentinelDBError(
                f"the embedded PostgreSQL in {before.data_dir} did not stop",
                hint=f"stop it by hand: kill -INT {before.pid}",
            ) from exc
    return True
