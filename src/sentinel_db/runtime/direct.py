"""Direct connections: one psycopg connection for a short read, without SQLAlchemy.

A one-shot read (``stats``, ``data show``, ``data list``, ``data search`` on the command line)
would spend most of its time loading SQLAlchemy. :class:`DirectSession` runs textual statements
with ``:named`` parameters on a plain psycopg connection and answers them the way a SQLAlchemy
result does (``all``, ``one``, ``scalar_one``, ``scalars``, ``mappings``; rows by position or
attribute), so the read functions that take "a session" (:func:`run`) serve both: the library
through its pooled sessions, the command line through a direct one. The connection is made as the
engines make theirs: the same driver arguments (:func:`driver_args`), retries
(:func:`connect_retrying`) and error translation.
"""

from __future__ import annotations

import random
import re
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from sentinel_db.config import (
    DatabaseTarget,
    database_target,
    is_local_url,
    is_pooler_url,
    mask_http_url,
)
from sentinel_db.errors import (
    ConnectionFailedError,
    DatabaseTimeoutError,
    SentinelDBError,
    describe_connect_error,
    is_permanent_connect_error,
    missing_at_connect,
    translate,
)
from sentinel_db.redact import library_logger

if TYPE_CHECKING:
    from sentinel_db.config import Settings

log = library_logger("sentinel_db.db")

APPLICATION_NAME = "sentinel-db"
_BACKOFF_BASE = 0.25
_BACKOFF_CAP = 8.0
T = TypeVar("T")

# ``:name`` as SQLAlchemy's text() reads it: not after a colon or a word character (``::cast``).
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def driver_args(target: Any, settings: Settings) -> dict[str, Any]:
    """psycopg connection arguments for ``target`` (a URL): pooler mode, SSL default, timeouts."""
    args: dict[str, Any] = {
        "connect_timeout": max(1, int(settings.db_timeout)),
        "application_name": APPLICATION_NAME,
    }
    if is_pooler_url(target):
        # A transaction pooler hands each transaction to any server connection; prepared
        # statements made on one are missing on the next, so psycopg must not prepare.
        args["prepare_threshold"] = None
    if "sslmode" not in target.query and not is_local_url(target):
        args["sslmode"] = "require"
    return args


def connect_retrying(
    connect: Callable[[], T], *, retries: int, target: str, count: Callable[[str], None]
) -> T:
    """``connect()``, retried on transient failures with exponential backoff and jitter.

    ``count`` hears ``connect_retries`` and ``connect_failures``; ``target`` is the masked URL.
    """
    attempt = 0
    while True:
        try:
            return connect()
        except psycopg.OperationalError as exc:
            if is_permanent_connect_error(exc):
                count("connect_failures")
                raise
            if attempt >= retries:
                count("connect_failures")
                # Log the last try too, so the log accounts for every attempt made.
                log.warning(
                    "connection attempt %d of %d to %s failed (%s); giving up",
                    attempt + 1,
                    retries + 1,
                    target,
                    describe_connect_error(exc),
                )
                raise
            delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt) * (0.5 + random.random())
            attempt += 1
            count("connect_retries")
            log.warning(
                "connection attempt %d to %s failed (%s); retrying in %.2fs",
                attempt,
                target,
                describe_connect_error(exc),
                delay,
            )
            time.sleep(delay)


def _named_tuples(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    """Rows as named tuples; a name used twice (``count``, ``count``) or not an identifier
    (``?column?``) becomes ``_N``, where SQLAlchemy's rows would keep it by position only."""
    names = [column.name for column in cursor.description or ()]
    make_type: Any = namedtuple  # names known only at run time
    row_type = make_type("Row", names, rename=True)
    make: Callable[[Sequence[Any]], Any] = row_type._make
    return make


class DirectResult:
    """The rows of one statement (named tuples), read as SQLAlchemy results are read."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        """Every row."""
        return list(self._rows)

    def one(self) -> Any:
        """The only row."""
        (row,) = self._rows
        return row

    def scalar_one(self) -> Any:
        """The first value of the only row."""
        return self.one()[0]

    def scalars(self) -> Iterator[Any]:
        """The first value of each row."""
        return (row[0] for row in self._rows)

    def mappings(self) -> DirectResult:
        """The rows as dicts keyed by column name."""
        return DirectResult([row._asdict() for row in self._rows], self.rowcount)


class DirectSession:
    """A psycopg connection that runs SQL text with ``:named`` parameters."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.info: dict[str, Any] = {}  # no query embedder: searches here are lexical

    def execute(
        self, statement: str, params: Mapping[str, Any] | None = None, *, action: str = "read"
    ) -> DirectResult:
        """Run ``statement`` with ``params``.

        Raises:
            SentinelDBError: the statement failed (translated as the library translates).
        """
        sql = _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))
        try:
            cursor = self.conn.execute(sql, dict(params or {}))
            rows = cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise translate(exc, action=action) from exc
        return DirectResult(rows, cursor.rowcount)


def run(
    session: Any, statement: str, params: Mapping[str, Any] | None = None, *, action: str
) -> Any:
    """Run SQL text on a SQLAlchemy session or a :class:`DirectSession` alike.

    Raises:
        SentinelDBError: the statement failed.
    """
    if isinstance(session, DirectSession):
        return session.execute(statement, params, action=action)
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return session.execute(text(statement), params)
    except SQLAlchemyError as exc:
        raise translate(exc, action=action) from exc


def conninfo(target: DatabaseTarget) -> dict[str, Any]:
    """libpq keywords for ``target`` (the ``pgbouncer`` flag is ours, not libpq's)."""
    keywords: dict[str, Any] = {k: v for k, v in target.query.items() if k != "pgbouncer"}
    for name, value in (
        ("host", target.host),
        ("port", target.port),
        ("user", target.username),
        ("password", target.password),
    ):
        if value is not None:
            keywords.setdefault(name, value)
    if target.database or "host" not in target.query:
        keywords["dbname"] = target.database or "postgres"
    return keywords


def direct_url(settings: Settings, *, read_only: bool = True) -> str | None:
    """The URL a direct session of these settings connects to, or None when it must not.

    Reads go to the replica when one is configured, as a read-only unit of work's do. The
    embedded server's folder qualifies once it exists: a brand-new one is migrated first,
    which is :class:`~sentinel_db.runtime.db.Database`'s work.
    """
    chosen = settings.database_read_url if read_only else None
    chosen = chosen or settings.database_url
    if chosen is not None:
        return chosen.get_secret_value()
    from sentinel_db.runtime import embedded

    data_dir = settings.embedded_dir or embedded.default_data_dir()
    if not embedded.is_initialised(data_dir):
        return None
    embedded.announce(data_dir)
    return embedded.embedded_url(data_dir)


@contextmanager
def direct_session(
    raw_url: str, settings: Settings, *, read_only: bool = True
) -> Iterator[DirectSession]:
    """A :class:`DirectSession` on ``raw_url``: its work commits at the end unless it failed
    (a read-only one's transaction just ends), and the connection closes.

    Raises:
        ConnectionFailedError: the server cannot be reached or refuses us.
    """
    target = database_target(raw_url)
    keywords = {**conninfo(target), **driver_args(target, settings)}
    try:
        conn = connect_retrying(
            lambda: psycopg.connect(**keywords, row_factory=_named_tuples),
            retries=settings.db_retry_count,
            target=mask_http_url(raw_url),
            count=lambda _name: None,
        )
    except psycopg.Error as exc:
        raise connect_failure(exc, mask_http_url(raw_url)) from exc
    with conn:  # commits on success, rolls back on an error, then closes
        conn.read_only = read_only
        yield DirectSession(conn)


def connect_failure(exc: BaseException, masked: str) -> SentinelDBError:
    """A failed connection to ``masked`` as one clear error: the reason and what to check."""
    orig = getattr(exc, "orig", exc)
    reason = describe_connect_error(orig)
    hints = {
        "authentication failed": "check the user and password in DATABASE_URL",
        "database does not exist": "create the database or fix its name in DATABASE_URL",
        "database or role does not exist": "check the database and user names in DATABASE_URL",
        "unknown host": "check the host name in DATABASE_URL",
        "connection refused": "is PostgreSQL running and listening on that host and port?",
        "connection timed out": "check the network path, or raise DB_TIMEOUT",
    }
    translated = translate(exc, action="connect")
    if isinstance(translated, DatabaseTimeoutError):
        # The server is fine; every pooled connection is busy. Saying "cannot connect" would mislead.
        return translated
    if not isinstance(translated, ConnectionFailedError):
        return ConnectionFailedError(f"cannot connect to {masked}: {reason}")
    missing = missing_at_connect(orig)
    if missing is not None:
        return ConnectionFailedError(
            f"cannot connect to {masked}: {missing}",
            hint="create it, or fix the name in DATABASE_URL",
        )
    return ConnectionFailedError(
        f"cannot connect to {masked}: {reason}",
        hint=hints.get(reason, "check DATABASE_URL and that the server is reachable"),
    )
