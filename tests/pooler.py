"""A real transaction pooler for the tests: Debian's pgbouncer in front of the test server.

pgbouncer runs as a subprocess with ``pool_mode = transaction`` on port 6543, like Supabase's
transaction pooler, from its own temporary folder, and is stopped at the end. So that test runs
on one machine never collide, it listens on a random address of the loopback network
(127.x.y.z, all of it routed to ``lo`` on Linux). It refuses to run as root, so under root it
drops to the ``postgres`` (or ``nobody``) user.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.pq import ExecStatus
from sqlalchemy.engine import URL

from sentinel_db.config import POOLER_PORT

# A database alias served by exactly one server connection: every client shares it, which
# makes what a transaction pooler does to prepared statements deterministic.
PINNED_ALIAS = "sentinel_pinned"
_READY_TIMEOUT = 15.0


@dataclass(frozen=True)
class Pooler:
    """A running pgbouncer: where it listens, and how to reach a database through it."""

    host: str
    port: int
    user: str
    password: str | None

    def url(self, database: str, *, marked: bool = True) -> URL:
        """SQLAlchemy URL for ``database`` through the pooler (``pgbouncer=true`` if marked).

        Port 6543 alone already marks it as a pooler; TLS is off as on any loopback address.
        """
        query = {"sslmode": "disable"}
        if marked:
            query["pgbouncer"] = "true"
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
            query=query,
        )

    def admin(self, command: str) -> None:
        """Run one command on pgbouncer's admin console (simple query protocol only)."""
        with psycopg.connect(self.conninfo("pgbouncer"), autocommit=True) as conn:
            result = conn.pgconn.exec_(command.encode())
            if result.status not in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK):
                message = (result.error_message or b"").decode(errors="replace")
                raise RuntimeError(f"pgbouncer {command!r} failed: {message}")

    def conninfo(self, database: str) -> str:
        """libpq connection string for ``database`` through the pooler (no pooler marker)."""
        return (
            self.url(database, marked=False)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )


def find_pgbouncer() -> str | None:
    """Path of the pgbouncer binary on PATH (Debian puts it in /usr/sbin), or None."""
    return shutil.which("pgbouncer")


def _free_address() -> tuple[str, int]:
    """A loopback address where port 6543 is free (else any free port on 127.0.0.1)."""
    for _ in range(20):
        host = "127.{}.{}.{}".format(*(random.randint(1, 254) for _ in range(3)))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, POOLER_PORT))
            except OSError:
                continue
            return host, POOLER_PORT
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return "127.0.0.1", int(sock.getsockname()[1])


def _run_as(server: URL) -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    socket_dir = server.host or str(server.query.get("host", ""))
    if socket_dir.startswith("/"):
        # A Unix-socket server (the embedded one) is reachable only by its folder's owner.
        owner = pwd.getpwuid(os.stat(socket_dir).st_uid)
        if owner.pw_uid != 0:
            return owner
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("pgbouncer refuses to run as root and no postgres/nobody user exists")


def _config(server: URL, *, listen: tuple[str, int], folder: Path, pinned_database: str) -> str:
    host = server.host or str(server.query.get("host", "127.0.0.1"))
    target = f"host={host} port={server.port or 5432} user={server.username or 'postgres'}"
    if server.password:
        target += f" password={server.password}"
    return "\n".join(
        [
            "[databases]",
            f"{PINNED_ALIAS} = {target} dbname={pinned_database} pool_size=1",
            f"* = {target}",
            "[pgbouncer]",
            f"listen_addr = {listen[0]}",
            f"listen_port = {listen[1]}",
            "unix_socket_dir =",
            "auth_type = any",
            "pool_mode = transaction",
            f"admin_users = {server.username or 'postgres'}",
            "default_pool_size = 20",
            "max_client_conn = 500",
            "ignore_startup_parameters = extra_float_digits,options",
            f"logfile = {folder / 'pgbouncer.log'}",
            f"pidfile = {folder / 'pgbouncer.pid'}",
            "",
        ]
    )


def _wait_ready(pooler: Pooler, database: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            detail = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pgbouncer exited with {proc.returncode}:\n{detail[-2000:]}")
        try:
            with psycopg.connect(pooler.conninfo(database), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling for readiness, bounded by the deadline above


@contextmanager
def run_pgbouncer(server: URL, *, pinned_database: str) -> Iterator[Pooler]:
    """Start pgbouncer in transaction mode in front of ``server``; stop it on exit.

    ``pinned_database`` is also reachable as :data:`PINNED_ALIAS`, through a single server
    connection.
    """
    binary = find_pgbouncer()
    if binary is None:
        raise RuntimeError("pgbouncer is not installed: apt-get install -y pgbouncer")
    folder = Path(tempfile.mkdtemp(prefix="sentinel-db-pgbouncer-"))
    host, port = _free_address()
    config = folder / "pgbouncer.ini"
    config.write_text(
        _config(server, listen=(host, port), folder=folder, pinned_database=pinned_database),
        encoding="utf-8",
    )
    command = [binary, str(config)]
    user = _run_as(server)
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chown(config, user.pw_uid, user.pw_gid)
        command = [binary, "-u", user.pw_name, str(config)]
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    pooler = Pooler(
        host=host,
        port=port,
        user=server.username or "postgres",
        password=str(server.password) if server.password else None,
    )
    try:
        _wait_ready(pooler, pinned_database, proc, folder / "pgbouncer.log")
        yield pooler
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
