"""An exact, in-process cache of repository reads, kept fresh by per-table data versions.

Every committed write to a reference table advances that table's row in
``sentinel_db.data_versions`` in the writer's own transaction (triggers installed by the
migrations). A read-only unit of work with the cache on reads those versions once, the first
time a repository read asks for them, drops the entries whose tables moved on, and then serves
repeated reads from memory. An entry is used only by a unit of work that saw exactly the
versions it was stored under, so nothing older than the last commit that unit of work could see
is ever returned, whichever process or machine wrote it.

An entry depends on every table its read actually queried: while the read runs, each
statement sent on the unit of work's connection is scanned for the names of the versioned
tables, so a read that joins or counts another table (``coverage``, ``rules_for_control``) is
invalidated by a write to it without anyone listing it. A read that touches a table with no
version is not cached.

Cached values are deeply immutable: ORM rows become frozen records, and their JSON fields
read-only (see :mod:`sentinel_db.runtime.frozen`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db.errors import MigrationError, NotFoundError, translate
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.runtime.frozen import FrozenDict, FrozenList, Unfreezable, freeze, size_of
from sentinel_db.runtime.metrics import CacheFigures, labelled

SESSION_KEY = "sentinel_db.cache"
VERSION_CHECK = "cache.version_check"
_VERSIONS = text("SELECT table_name, version FROM sentinel_db.data_versions")
_UNDEFINED = frozenset({"42P01", "3F000"})  # no such table / schema: not migrated yet
_NAME = re.compile(r"[a-z_][a-z0-9_$]*")

Dependencies = tuple[tuple[str, int], ...]


@dataclass
class _Entry:
    value: Any
    depends: Dependencies
    size: int


class RepositoryCache:
    """Entries bounded in number and bytes, evicted least recently used first (thread-safe)."""

    def __init__(self, *, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._known: dict[str, int] = {}
        self.bytes = 0
        self.hits = self.misses = self.evictions = self.invalidations = self.version_checks = 0

    def __len__(self) -> int:
        return len(self._entries)

    def observe(self, versions: Mapping[str, int]) -> None:
        """Versions a unit of work just read: drop every entry of a table that moved on."""
        with self._lock:
            self.version_checks += 1
            moved = {t for t, v in versions.items() if v > self._known.get(t, v - 1)}
            if not moved:
                return
            for table in moved:
                self._known[table] = versions[table]
            for key in [k for k, e in self._entries.items() if _stale(e.depends, self._known)]:
                self._drop(key)
                self.invalidations += 1

    def get(self, key: Hashable, versions: Mapping[str, int]) -> tuple[bool, Any]:
        """``(True, value)`` when ``key`` was stored under exactly these ``versions`` of the
        tables it depends on."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or any(versions.get(t) != v for t, v in entry.depends):
                self.misses += 1
                return False, None
            self._entries.move_to_end(key)
            self.hits += 1
            return True, entry.value

    def put(self, key: Hashable, depends: Dependencies, value: Any) -> None:
        """Store ``value`` (already frozen) unless newer versions are known or it is too big."""
        size = size_of(value) + size_of(key) + 64 * (len(depends) + 1)
        with self._lock:
            if size > self.max_bytes or any(self._known.get(t) != v for t, v in depends):
                return  # a unit of work that lags behind another must not overwrite it
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(value, depends, size)
            self.bytes += size
            while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
                self.evictions += 1

    def clear(self) -> None:
        """Forget every entry (counters are kept)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _drop(self, key: Hashable) -> None:
        self.bytes -= self._entries.pop(key).size

    def figures(self) -> CacheFigures:
        """The counters and current size."""
        with self._lock:
            return CacheFigures(
                enabled=True,
                hits=self.hits,
                misses=self.misses,
                evictions=self.evictions,
                invalidations=self.invalidations,
                version_checks=self.version_checks,
                entries=len(self._entries),
                bytes=self.bytes,
                max_entries=self.max_entries,
                max_bytes=self.max_bytes,
            )


def _stale(depends: Dependencies, known: Mapping[str, int]) -> bool:
    return any(known.get(t, v) != v for t, v in depends)


class UnitOfWorkCache:
    """The cache as one unit of work sees it: versions read once, on the unit's own session."""

    def __init__(self, cache: RepositoryCache, session: Session) -> None:
        self.cache = cache
        self.session = session
        self._versions: dict[str, int] | None = None

    def versions(self) -> dict[str, int]:
        """The data versions, read on the first call (one statement in this transaction).

        Raises:
            MigrationError: the database has no ``sentinel_db.data_versions`` table.
        """
        if self._versions is None:
            try:
                with labelled(VERSION_CHECK):
                    rows = self.session.execute(_VERSIONS).all()
            except SQLAlchemyError as exc:
                if getattr(getattr(exc, "orig", None), "sqlstate", None) in _UNDEFINED:
                    raise MigrationError(
                        "the repository cache needs sentinel_db.data_versions, which is missing",
                        hint="run `sentinel-db migrate`, or turn the cache off (DB_CACHE=false)",
                    ) from exc
                raise translate(exc, action="check data versions") from exc
            self._versions = {str(t): int(v) for t, v in rows}
            self.cache.observe(self._versions)
        return self._versions

    def call(self, key: Hashable, tables: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """The cached result for ``key``, else ``compute()`` frozen and stored.

        The entry depends on ``tables`` and on every table the computation queried.
        """
        versions = self.versions()
        found, value = self.cache.get(key, versions)
        if not found:
            read = set(tables)
            try:
                with self._watching(read):
                    result = compute()
            except NotFoundError as exc:
                # "No such key" is an answer too, and as cacheable as a row.
                depends = _depends(read, versions)
                if depends is not None:
                    self.cache.put(key, depends, _Missing(exc.message, exc.hint))
                raise
            depends = _depends(read, versions)
            if depends is None:
                return result  # a table without a version cannot be tracked: never cache it
            try:
                value = freeze(result)
            except Unfreezable:
                return result
            self.cache.put(key, depends, value)
        if isinstance(value, _Missing):
            raise NotFoundError(value.message, hint=value.hint)
        return _thaw(value)

    @contextmanager
    def _watching(self, read: set[str]) -> Iterator[None]:
        """Add to ``read`` the tables named by each statement run on this unit's connection."""
        connection = self.session.connection()

        def _note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            read.update(_TABLES.intersection(_NAME.findall(statement.lower())))

        event.listen(connection, "before_cursor_execute", _note)
        try:
            yield
        finally:
            event.remove(connection, "before_cursor_execute", _note)


_TABLES = frozenset(ALL_TABLES)


def _depends(read: set[str], versions: Mapping[str, int]) -> Dependencies | None:
    """The versions of the tables read (sorted), or None when one of them has none."""
    if any(t not in versions for t in read):
        return None
    return tuple(sorted((t, versions[t]) for t in read))


@dataclass(frozen=True)
class _Missing:
    message: str
    hint: str | None


def _thaw(value: Any) -> Any:
    # The outer list or dict is the caller's to change; what is inside stays shared and frozen.
    if isinstance(value, FrozenList):
        return value.thaw()
    if isinstance(value, FrozenDict):
        return dict(value)
    return value


def attach(session: Session, cache: RepositoryCache) -> None:
    """Serve ``session``'s repository reads from ``cache`` (for one read-only unit of work)."""
    session.info[SESSION_KEY] = UnitOfWorkCache(cache, session)


def of_session(session: Session) -> UnitOfWorkCache | None:
    """The cache attached to ``session``, if any."""
    found = session.info.get(SESSION_KEY)
    return found if isinstance(found, UnitOfWorkCache) else None
