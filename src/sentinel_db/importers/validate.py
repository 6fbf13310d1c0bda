"""Per-row checks: the right number of fields, then the table's pydantic model."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from sentinel_db.importers.reader import Header
from sentinel_db.importers.tables import TableSpec
from sentinel_db.records.validation import ROW_MODELS, WARNINGS_KEY, describe_errors

Record = tuple[Any, ...]


class RowChecker:
    """Turns CSV fields into a staging record ``(line, *spec.columns)`` or reasons to reject."""

    def __init__(self, spec: TableSpec, header: Header, *, validate: bool = True) -> None:
        self.spec = spec
        self.validate = validate
        self.width = len(header.names)
        self._model = ROW_MODELS[spec.name]
        self._positions = [(name, header.index.get(name)) for name in spec.columns]
        self._json = {
            name for name, kind in zip(spec.columns, spec.types, strict=True) if kind == "jsonb"
        }
        self._context: dict[str, list[str]] = {}
        self.warnings: list[str] = []

    def check(self, line: int, fields: list[str]) -> Record | list[tuple[str, str]]:
        """The record to stage, or ``(column, reason)`` pairs saying why the row is rejected.

        Warnings (such as a trimmed key) are left in :attr:`warnings` until the next call.
        """
        if self.warnings:
            self.warnings = []
        if len(fields) != self.width:
            return [("", f"expected {self.width} fields, found {len(fields)}")]
        if not self.validate:
            return self._raw(line, fields)
        data = {name: fields[i] for name, i in self._positions if i is not None}
        try:
            row = self._model.model_validate(data, context=self._context)
        except ValidationError as exc:
            self._context.clear()
            return describe_errors(exc)
        if self._context:
            self.warnings = self._context.pop(WARNINGS_KEY, [])
        values: list[Any] = [line]
        for name, i in self._positions:
            if name in self._json:
                values.append(fields[i] if i is not None else None)
            elif name == "id":
                values.append(str(row.id) if row.id is not None else None)
            else:
                values.append(getattr(row, name))
        return tuple(values)

    def _raw(self, line: int, fields: list[str]) -> Record:
        values: list[Any] = [line]
        for name, i in self._positions:
            value = fields[i] if i is not None else None
            if value is not None and name in ("id", "requirement") and not value.strip():
                value = None
            values.append(value)
        return tuple(values)
