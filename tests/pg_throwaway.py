"""A throwaway embedded PostgreSQL that tests may stop, kill and restart.

The shared test server is never stopped; tests that take a server down use one of these, in a
temporary folder, deleted afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url


class ThrowawayServer:
    """An embedded PostgreSQL (pgserver) in its own folder, with stop and start controls."""

    def __init__(self) -> None:
        import pgserver

        self._pgserver = pgserver
        self.folder = Path(tempfile.mkdtemp(prefix="sentinel-db-faults-"))
        self._handle: Any = pgserver.get_server(self.folder, cleanup_mode="delete")
        info = self._handle.get_postmaster_info()
        self.socket_dir = Path(info.socket_dir)
        self.admin_uri: str = self._handle.get_uri()
        self._lock = threading.Lock()

    def url(self, database: str = "postgres") -> URL:
        """A SQLAlchemy URL of ``database`` on this server (Unix socket, trust auth)."""
        return make_url(self.admin_uri).set(drivername="postgresql+psycopg", database=database)

    def libpq_uri(self, database: str = "postgres") -> str:
        """A libpq URI of ``database`` on this server."""
        return self.url(database).set(drivername="postgresql").render_as_string(hide_password=False)

    def create_database(self, name: str) -> None:
        """Create an empty database."""
        with psycopg.connect(self.admin_uri, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def _pg_ctl(self, *args: str) -> None:
        self._pgserver.pg_ctl(
            list(args), pgdata=self.folder, user=self._handle.system_user, timeout=30
        )

    def stop(self, *, mode: str = "immediate") -> None:
        """Stop the server; ``immediate`` is a crash (no checkpoint, clients cut off)."""
        with self._lock:
            self._pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        """Start the stopped server on the same socket (so the same URL reaches it again)."""
        with self._lock:
            self._pg_ctl(
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.folder / "log"),
                "start",
            )

    def restart(self, *, mode: str = "immediate") -> None:
        """Crash-stop and start again."""
        self.stop(mode=mode)
        self.start()

    def is_running(self) -> bool:
        """True when the server accepts connections."""
        try:
            with psycopg.connect(self.admin_uri, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def close(self) -> None:
        """Stop the server (whatever state it is in) and delete its folder."""
        # pgserver only stops the postmaster it started; after a restart that is a new one.
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("-w", "-m", "immediate", "stop")
        # Stopped already: keep pgserver from trying (and logging a failure) again.
        self._handle._postmaster_info = None
        self._handle.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def throwaway_server() -> Iterator[ThrowawayServer]:
    """A :class:`ThrowawayServer`, closed (and its folder deleted) on exit."""
    server = ThrowawayServer()
    try:
        yield server
    finally:
        server.close()
