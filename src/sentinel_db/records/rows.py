"""Records: the validated shapes that go in and out of the API (built from ORM rows or dicts).

ORM models call their JSONB column ``metadata_`` (``metadata`` is reserved on declarative
classes); records call it ``metadata``, as the CSV files and JSON output do.
"""

from __future__ import annotations

import uuid
from typing import Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from sentinel_db.errors import DataValidationError
from sentinel_db.records.coverage import Coverage as Coverage  # where it was defined before

_METADATA: Any = Field(
    default_factory=dict,
    # ORM rows first: ``row.metadata`` is SQLAlchemy's MetaData, never the column.
    validation_alias=AliasChoices("metadata_", "metadata"),
)


class Record(BaseModel):
    """Common behaviour: built from ORM rows, dumped to plain dicts and JSON."""

    model_config = ConfigDict(from_attributes=True, frozen=True, extra="forbid")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (ids as strings)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """Compact JSON text."""
        return self.model_dump_json()

    def to_row(self) -> dict[str, Any]:
        """Column values keyed by database column name, ready for INSERT."""
        return self.model_dump(mode="python")


def _stripped_key(value: str, name: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


class PciControl(Record):
    """A PCI DSS control."""

    id: uuid.UUID | None = None
    control_id: str = Field(max_length=20)
    requirement: str | None = None
    chunk: str
    metadata: dict[str, Any] = _METADATA

    @field_validator("control_id")
    @classmethod
    def _control_id(cls, value: str) -> str:
        return _stripped_key(value, "control_id")


class AwsConfigRule(Record):
    """Guidance for one AWS Config rule."""

    id: uuid.UUID | None = None
    config_rule: str = Field(max_length=100)
    chunk: str
    metadata: dict[str, Any] = _METADATA

    @field_validator("config_rule")
    @classmethod
    def _config_rule(cls, value: str) -> str:
        return _stripped_key(value, "config_rule")


class PciAwsConfigMapping(Record):
    """The AWS Config rules that evidence one control (names or ``{"rule": ...}`` objects)."""

    id: uuid.UUID | None = None
    control_id: str = Field(max_length=20)
    config_rules: list[Any]

    @field_validator("control_id")
    @classmethod
    def _control_id(cls, value: str) -> str:
        return _stripped_key(value, "control_id")

    @property
    def rule_names(self) -> list[str]:
        """The rule names, whichever way each entry spells them."""
        return [name for name in map(rule_name_of, self.config_rules) if name]


def rule_name_of(entry: Any) -> str | None:
    """The rule an entry of ``config_rules`` names: a string, or ``{"rule"|"rule_name": ...}``."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        name = entry.get("rule", entry.get("rule_name"))
        return name if isinstance(name, str) else None
    return None


RecordT = TypeVar("RecordT", bound=Record)


FoundBy = Literal["lexical", "vector", "both"]


class SearchHit(BaseModel, Generic[RecordT]):
    """One search result: the record, its rank, a snippet, and which ranking found it."""

    model_config = ConfigDict(frozen=True)

    record: RecordT
    rank: float
    snippet: str
    found_by: FoundBy = "lexical"


# How a search answered: lexical only (asked for, or nothing to fuse with), both rankings
# fused, or lexical because the embedding provider failed or was slow.
SearchMode = Literal["lexical", "hybrid", "lexical-fallback"]


class SearchHits(list[SearchHit[RecordT]], Generic[RecordT]):
    """Search hits, best first, saying how they were found (``mode``, and ``note`` on why)."""

    mode: SearchMode = "lexical"
    note: str | None = None

    @classmethod
    def of(
        cls, hits: list[SearchHit[RecordT]], mode: SearchMode, note: str | None = None
    ) -> SearchHits[RecordT]:
        """``hits`` with how they were found."""
        found = cls(hits)
        found.mode, found.note = mode, note
        return found


class MappedRule(BaseModel):
    """A rule mapped to a control, with its guidance when asked for and present."""

    model_config = ConfigDict(frozen=True)

    rule: str
    guidance: AwsConfigRule | None = None


def validate_record(record_type: type[RecordT], data: Any) -> RecordT:
    """``data`` (a dict, record or ORM row) as ``record_type``.

    Raises:
        DataValidationError: a field is missing or malformed.
    """
    if isinstance(data, record_type):
        return data
    try:
        return record_type.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        )
        raise DataValidationError(f"invalid {record_type.__name__}: {problems}") from exc
