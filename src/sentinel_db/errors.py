"""The exception hierarchy, exit codes, and the one place that turns driver errors into ours."""

from __future__ import annotations

import re
import sys
from enum import IntEnum

import psycopg

from sentinel_db.redact import redact


class ExitCode(IntEnum):
    """Process exit codes of the CLI (documented in docs/cli.md)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CANNOT_CONNECT = 3
    REJECTED = 4
    DRIFT = 5


class SentinelDBError(Exception):
    """Base of every error sentinel-db raises on purpose.

    ``hint`` says what the user can do about it; ``exit_code`` is what the CLI exits with.
    """

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Redacted here, so no message or hint of ours can carry a password, whoever builds it.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = redact(hint) if hint is not None else None


class ConfigError(SentinelDBError):
    """A setting is missing or malformed."""

    exit_code = ExitCode.USAGE


class UsageError(SentinelDBError):
    """The caller asked for something that does not exist (an unknown table, a bad option)."""

    exit_code = ExitCode.USAGE


class ConnectionFailedError(SentinelDBError):
    """The database could not be reached or refused us."""

    exit_code = ExitCode.CANNOT_CONNECT


class NotFoundError(SentinelDBError):
    """A record that was asked for by key does not exist."""


class DuplicateError(SentinelDBError):
    """A write collided with a unique key."""


class DataValidationError(SentinelDBError):
    """A value does not satisfy the data model or a database constraint."""

    exit_code = ExitCode.REJECTED


class ImportValidationError(DataValidationError):
    """A file (or some of its rows) was rejected by the importer."""


class MigrationError(SentinelDBError):
    """A schema migration failed or the schema is not what sentinel-db expects."""


class SchemaDriftError(MigrationError):
    """The live schema differs from the models."""

    exit_code = ExitCode.DRIFT


class DatabaseTimeoutError(SentinelDBError):
    """A statement, lock or pool wait ran out of time."""


class DatabaseError(SentinelDBError):
    """Any other database failure, translated."""


class EmbeddingProviderError(SentinelDBError):
    """The embedding provider could not be reached, refused us, or answered something unusable.

    The message names the provider and its masked URL, never the API key.
    """

    exit_code = ExitCode.CANNOT_CONNECT


# SQLSTATE classes and codes we give a meaning to.
_AUTH_FAILED = {"28P01", "28000"}
_NO_DATABASE = {"3D000"}
_TIMEOUTS = {"57014", "55P03"}  # query_canceled (statement_timeout), lock_not_available
_CONNECTION_LOST = {"57P01", "57P02", "57P03", "08000", "08003", "08006"}


_MISSING_RELATION = {"42P01": "table", "3F000": "schema"}
# libpq reports these without a SQLSTATE; the object names are not secrets.
_MISSING_AT_CONNECT = re.compile(r'(database|role) "([^"]+)" does not exist')
_QUOTED = re.compile(r'"([^"]+)"')


def missing_at_connect(exc: BaseException) -> str | None:
    """``database X does not exist on the server`` (or role) for such a connect failure."""
    if _sqlstate(exc) in _NO_DATABASE or "does not exist" in str(exc):
        match = _MISSING_AT_CONNECT.search(str(exc))
        if match:
            return f"{match.group(1)} {match.group(2)} does not exist on the server"
    return None


def _missing_table(action: str, detail: str, state: str) -> MigrationError:
    match = _QUOTED.search(detail)
    name = match.group(1) if match else "a sentinel-db table"
    # The vector tables belong to the optional schema, which plain `migrate` leaves out.
    command = "migrate --with vectors" if name.endswith("_embeddings") else "migrate"
    return MigrationError(
        f"{action}: {_MISSING_RELATION[state]} {name} is missing from the database",
        hint=f"run `sentinel-db {command}` to create it (a rollback may have removed it)",
    )


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None)


def translate(exc: BaseException, *, action: str = "database operation") -> SentinelDBError:
    """Turn a psycopg/SQLAlchemy exception into a :class:`SentinelDBError`.

    Keys on SQLSTATE and ``diag.constraint_name``; never copies the driver's message when it
    could hold a connection string.
    """
    if isinstance(exc, SentinelDBError):
        return exc
    # Looked up, not imported: a process that never loaded SQLAlchemy holds none of its errors.
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.TimeoutError):
        return DatabaseTimeoutError(
            f"{action}: timed out waiting for a pooled connection",
            hint="raise DB_POOL_SIZE / DB_MAX_OVERFLOW or run fewer sessions at once",
        )
    orig = getattr(exc, "orig", None) or exc
    state = _sqlstate(exc)
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    detail = getattr(diag, "message_primary", None) or ""
    if state == "23505":
        return DuplicateError(f"{action}: duplicate key violates {constraint or 'a unique key'}")
    if state is not None and state.startswith("23"):
        return DataValidationError(
            f"{action}: constraint {constraint or state} violated: {detail}".rstrip(": ")
        )
    if state is not None and state.startswith("22"):
        return DataValidationError(f"{action}: invalid data: {detail}")
    if state in _TIMEOUTS:
        kind = "statement timeout" if state == "57014" else "lock timeout"
        return DatabaseTimeoutError(
            f"{action}: {kind} reached; nothing was written by the interrupted transaction"
        )
    if state in _MISSING_RELATION:
        return _missing_table(action, detail, state)
    missing = missing_at_connect(orig)
    if missing is not None:
        return ConnectionFailedError(
            f"{action}: {missing}",
            hint="create it, or fix the name in DATABASE_URL",
        )
    if state in _AUTH_FAILED:
        return ConnectionFailedError(
            f"{action}: authentication failed",
            hint="check the user name and password in DATABASE_URL",
        )
    if state in _NO_DATABASE:
        return ConnectionFailedError(
            f"{action}: database does not exist", hint="create it or fix the database name"
        )
    if state in _CONNECTION_LOST or isinstance(orig, psycopg.OperationalError):
        return ConnectionFailedError(
            f"{action}: connection to the database failed or was lost ({describe_connect_error(orig)})",
            hint="check that the server is up and reachable; the interrupted transaction was rolled back",
        )
    return DatabaseError(
        f"{action}: {type(orig).__name__} ({state or 'no SQLSTATE'}) {detail}".strip()
    )


def describe_connect_error(exc: BaseException) -> str:
    """A short, secret-free reason for a failed connection attempt."""
    state = _sqlstate(exc)
    if state in _AUTH_FAILED:
        return "authentication failed"
    if state in _NO_DATABASE:
        return "database does not exist"
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return "connection timed out"
    text = str(exc).lower()
    # libpq reports connection failures without a SQLSTATE; these phrases are libpq's own and stable.
    for needle, reason in (
        ("password authentication failed", "authentication failed"),
        ("no password supplied", "authentication failed"),
        ("does not exist", "database or role does not exist"),
        ("connection refused", "connection refused"),
        ("could not translate host name", "unknown host"),
        ("name or service not known", "unknown host"),
        ("timeout expired", "connection timed out"),
        ("timed out", "connection timed out"),
        ("server closed the connection", "server closed the connection"),
        ("terminating connection", "connection terminated by the server"),
        ("ssl", "SSL negotiation failed"),
        ("no such file or directory", "no server at that socket"),
    ):
        if needle in text:
            return reason
    return "connection failed"


def is_permanent_connect_error(exc: BaseException) -> bool:
    """True for failures that retrying cannot fix (bad credentials, unknown database or host)."""
    return describe_connect_error(exc) in {
        "authentication failed",
        "database does not exist",
        "database or role does not exist",
        "unknown host",
        "SSL negotiation failed",
    }
