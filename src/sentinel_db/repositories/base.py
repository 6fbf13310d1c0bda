"""The generic repository: CRUD, pagination, streaming and bulk upsert for one table.

Repositories flush and never commit: the caller's ``Database.unit_of_work()`` owns the
transaction, so several repositories' work commits or rolls back together. Every public method
is wrapped when its class is defined (:mod:`sentinel_db.repositories.instrument`): its statements
are counted under its name, and in a read-only unit of work with the cache on, reads are served
from the cache as frozen records instead of ORM rows.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Table, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sentinel_db.errors import DuplicateError, NotFoundError, UsageError, translate
from sentinel_db.records.models import Base
from sentinel_db.records.rows import Record, validate_record
from sentinel_db.repositories.instrument import instrument

ModelT = TypeVar("ModelT", bound=Base)

DEFAULT_BATCH_SIZE = 1000


class Repository(Generic[ModelT]):
    """Queries for one table, keyed by a natural key (``control_id``, ``config_rule``)."""

    model: ClassVar[type[Base]]
    record_type: ClassVar[type[Record]]
    key_name: ClassVar[str]

    def __init__(self, session: Session) -> None:
        self.session = session

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Metrics labels for every public method; cached reads when the session has a cache.
        instrument(cls)

    # -- helpers -------------------------------------------------------------------------------

    @property
    def table(self) -> Table:
        """The Core table behind the model."""
        table = self.model.__table__
        assert isinstance(table, Table)
        return table

    @property
    def key(self) -> ColumnElement[str]:
        """The natural-key column (attribute and column share the name)."""
        column: ColumnElement[str] = self.table.c[self.key_name]
        return column

    @property
    def writable_columns(self) -> list[str]:
        """Column names an INSERT may set (generated columns excluded)."""
        return [c.name for c in self.table.columns if c.computed is None]

    def _run(self, action: str, statement: Any, params: Any = None) -> Any:
        try:
            return self.session.execute(statement, params)
        except SQLAlchemyError as exc:
            raise translate(exc, action=action) from exc

    def _flush(self, action: str) -> None:
        try:
            self.session.flush()
        except SQLAlchemyError as exc:
            raise translate(exc, action=action) from exc

    def _label(self) -> str:
        return self.table.name

    # -- reads ---------------------------------------------------------------------------------

    def find(self, id: uuid.UUID) -> ModelT | None:
        """The row with primary key ``id``, or None."""
        row: ModelT | None = self.session.get(self.model, id)  # type: ignore[assignment]
        return row

    def get(self, id: uuid.UUID) -> ModelT:
        """The row with primary key ``id``.

        Raises:
            NotFoundError: there is none.
        """
        row = self.find(id)
        if row is None:
            raise NotFoundError(f"{self._label()}: no row with id {id}")
        return row

    def find_by_key(self, key: str) -> ModelT | None:
        """The row whose natural key is ``key``, or None."""
        stmt = select(self.model).where(self.key == key)
        row: ModelT | None = self._run(f"read {self._label()}", stmt).scalar_one_or_none()
        return row

    def get_by_key(self, key: str) -> ModelT:
        """The row whose natural key is ``key``.

        Raises:
            NotFoundError: there is none.
        """
        row = self.find_by_key(key)
        if row is None:
            raise NotFoundError(f"{self._label()}: no row with {self.key_name} {key!r}")
        return row

    def list(self, *, limit: int = 10, offset: int = 0) -> list[ModelT]:
        """Rows ordered by natural key, ``limit`` of them after skipping ``offset``."""
        if limit < 0 or offset < 0:
            raise UsageError("limit and offset must not be negative")
        stmt = select(self.model).order_by(self.key).limit(limit).offset(offset)
        return list(self._run(f"list {self._label()}", stmt).scalars())

    def page_after(self, after: str | None = None, *, limit: int = 100) -> builtins.list[ModelT]:
        """Keyset pagination: up to ``limit`` rows whose natural key sorts after ``after``."""
        if limit < 0:
            raise UsageError("limit must not be negative")
        stmt = select(self.model).order_by(self.key).limit(limit)
        if after is not None:
            stmt = stmt.where(self.key > after)
        return list(self._run(f"list {self._label()}", stmt).scalars())

    def count(self) -> int:
        """Number of rows."""
        stmt = select(func.count()).select_from(self.model)
        return int(self._run(f"count {self._label()}", stmt).scalar_one())

    def exists(self, key: str) -> bool:
        """True when a row with natural key ``key`` exists."""
        stmt = select(select(self.model).where(self.key == key).exists())
        return bool(self._run(f"read {self._label()}", stmt).scalar_one())

    def iter_all(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[ModelT]:
        """Every row in natural-key order, read in keyset batches; memory stays flat.

        Rows are detached from the session once their batch has been handed out.
        """
        after: str | None = None
        while True:
            batch = self.page_after(after, limit=batch_size)
            yield from batch
            for row in batch:
                self.session.expunge(row)
            if len(batch) < batch_size:
                return
            after = getattr(batch[-1], self.key_name)

    def iter_rows(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[dict[str, Any]]:
        """Every row as a dict keyed by column name (generated columns left out), streamed."""
        columns = [self.table.c[name] for name in self.writable_columns]
        key_column = self.table.c[self.key_name]
        after: str | None = None
        while True:
            stmt = select(*columns).order_by(key_column).limit(batch_size)
            if after is not None:
                stmt = stmt.where(key_column > after)
            rows = [dict(r) for r in self._run(f"read {self._label()}", stmt).mappings()]
            yield from rows
            if len(rows) < batch_size:
                return
            after = rows[-1][key_column.name]

    def to_record(self, row: ModelT) -> Record:
        """The API record of an ORM row."""
        return self.record_type.model_validate(row)

    # -- writes --------------------------------------------------------------------------------

    def add(self, data: ModelT | Record | Mapping[str, Any]) -> ModelT:
        """Insert one row (validated) and flush.

        Raises:
            DataValidationError: the data does not fit the table.
            DuplicateError: its natural key or id is taken.
        """
        row = data if isinstance(data, Base) else self._new_model(data)
        self.session.add(row)
        self._flush(f"add to {self._label()}")
        return row  # type: ignore[return-value]

    def _new_model(self, data: Record | Mapping[str, Any]) -> Base:
        values = validate_record(self.record_type, data).to_row()
        if values.get("id") is None:
            values.pop("id", None)
        if "metadata" in values:
            values["metadata_"] = values.pop("metadata")
        return self.model(**values)

    def update(self, key: str, **values: Any) -> ModelT:
        """Change fields of the row with natural key ``key`` (validated) and flush.

        Raises:
            NotFoundError: there is no such row.
            DataValidationError: the new values do not fit.
            DuplicateError: a changed key collides with another row.
        """
        row = self.get_by_key(key)
        current = self.to_record(row).to_dict()
        current.update(values)
        checked = validate_record(self.record_type, current).to_row()
        for name, value in checked.items():
            if name != "id":
                setattr(row, "metadata_" if name == "metadata" else name, value)
        self._flush(f"update {self._label()}")
        return row

    def delete(self, key: str) -> None:
        """Delete the row with natural key ``key`` and flush.

        Raises:
            NotFoundError: there is no such row.
        """
        row = self.get_by_key(key)
        self.session.delete(row)
        self._flush(f"delete from {self._label()}")

    def delete_all(self) -> int:
        """Delete every row; returns how many there were."""
        result = self._run(f"clear {self._label()}", delete(self.model))
        return int(result.rowcount)

    def upsert_many(
        self,
        rows: Iterable[Record | Mapping[str, Any]],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> int:
        """Insert rows, updating those whose natural key exists (INSERT ... ON CONFLICT).

        Unchanged rows are not rewritten. Rows without an id get a new one; an existing row
        keeps its id. Returns the number of rows inserted or changed.

        Raises:
            DataValidationError: a row does not fit the table (nothing of its batch is written).
            DuplicateError: two rows share an id.
        """
        changing = [c for c in self.writable_columns if c not in ("id", self.key_name)]
        iterator = iter(rows)
        written = 0
        while batch := list(islice(iterator, batch_size)):
            values = [self._insert_values(row) for row in batch]
            keys = [v[self.key_name] for v in values]
            if len(set(keys)) != len(keys):
                twice = sorted({k for k in keys if keys.count(k) > 1})
                raise DuplicateError(
                    f"upsert into {self._label()}: {self.key_name} repeated in one batch: "
                    + ", ".join(map(str, twice[:5]))
                )
            stmt = insert(self.table).values(values)
            stmt = stmt.on_conflict_do_update(
                index_elements=[self.key_name],
                set_={c: stmt.excluded[c] for c in changing},
                where=or_(*self._changed(stmt.excluded, changing)),
            )
            result = self._run(f"upsert into {self._label()}", stmt.returning(self.table.c.id))
            written += len(result.all())
        return written

    def _insert_values(self, row: Record | Mapping[str, Any]) -> dict[str, Any]:
        values = validate_record(self.record_type, row).to_row()
        if values.get("id") is None:
            values["id"] = uuid.uuid4()
        return values

    def _changed(self, excluded: Any, names: Sequence[str]) -> builtins.list[ColumnElement[bool]]:
        return [self.table.c[name].is_distinct_from(excluded[name]) for name in names]
