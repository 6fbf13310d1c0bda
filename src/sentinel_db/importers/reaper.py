"""Finding import runs whose process died, without loading the importer (``stats`` does it first).

A running import holds a transaction-level advisory lock keyed by its ``import_runs`` row (see
:mod:`sentinel_db.importers.history`); a ``running`` row whose lock nobody holds belongs to a
process that ended without finishing.
"""

from __future__ import annotations

from typing import Any

from sentinel_db.errors import MigrationError, SentinelDBError
from sentinel_db.records.tables import sql_name
from sentinel_db.redact import library_logger
from sentinel_db.runtime.direct import run

log = library_logger("sentinel_db.importers")

_UNDEFINED_TABLE = "42P01"

DEAD_RUN_REASON = "the importing process ended without finishing"
# Two-key advisory locks: (class, key) never collides with the one-key locks used elsewhere.
RUN_LOCK_CLASS = 0x53454E54  # "SENT"
# The low 32 bits of the key: the run row's id, first 8 hex digits, as a signed int4.
RUN_LOCK_KEY = "('x' || left(replace(CAST({} AS text), '-', ''), 8))::bit(32)::int4"
_TRY_LOCK = f"SELECT pg_try_advisory_xact_lock({RUN_LOCK_CLASS}, {RUN_LOCK_KEY.format(':id')})"
_RUNNING = f"SELECT id FROM {sql_name('import_runs')} WHERE status = 'running'"
_MARK_DEAD = (
    f"UPDATE {sql_name('import_runs')} SET status = 'failed', finished_at = now(),"
    " error = :reason WHERE id = :id AND status = 'running'"
)


def missing_schema(exc: BaseException) -> None:
    """Raise a clear error when the failure is an unmigrated database."""
    cause = getattr(exc, "orig", None) or exc.__cause__
    cause = getattr(cause, "orig", None) or cause
    if getattr(cause, "sqlstate", None) in (_UNDEFINED_TABLE, "3F000"):
        raise MigrationError(
            "the database has no sentinel-db schema (import_runs is missing)",
            hint="run `sentinel-db migrate` first",
        ) from exc


def reap_dead(session: Any) -> int:
    """Mark ``failed`` every ``running`` row of ``session``'s database whose lock nobody holds.

    The caller commits. Returns how many rows were marked; a live import holds its lock, so it
    is never marked.
    """
    action = "check for dead imports"
    marked = 0
    try:
        running = run(session, _RUNNING, action=action).all()
    except SentinelDBError as exc:
        missing_schema(exc)
        raise
    for (row_id,) in running:
        # The lock stays ours until commit, so a second reaper cannot mark it twice.
        if run(session, _TRY_LOCK, {"id": row_id}, action=action).scalar_one():
            params = {"id": row_id, "reason": DEAD_RUN_REASON}
            marked += int(run(session, _MARK_DEAD, params, action=action).rowcount)
    if marked:
        log.warning("%d import run(s) recorded as failed: %s", marked, DEAD_RUN_REASON)
    return marked
