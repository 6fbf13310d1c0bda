"""Validated rows: one pydantic model per table, shared by the importer and the repositories.

CSV values arrive as strings. Each model parses its JSON columns strictly (NaN and Infinity are
not JSON), trims padded keys (reporting a warning through the validation context), and rejects
NUL bytes, blank text and overlong keys. :func:`describe_errors` turns a ``ValidationError``
into ``(column, reason)`` pairs that read well in a report.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable
from typing import Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sentinel_db.records.embeddings import MODEL_MAX, parse_vector, vector_literal

CONTROL_ID_MAX: Final = 20
CONFIG_RULE_MAX: Final = 100
# 1, 1.2, 12.3.4, A1, A1.1.2, A3.2.5.1: a requirement number (or appendix A1-A9), then parts.
CONTROL_ID_PATTERN: Final = r"^(?:[1-9][0-9]?|A[1-9])(?:\.[0-9]{1,3}){0,5}$"
_CONTROL_ID_RE: Final = re.compile(CONTROL_ID_PATTERN)
_PAD: Final = " \t"

WARNINGS_KEY: Final = "warnings"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_strict(text: str) -> Any:
    """Parse JSON, refusing NaN and Infinity (which Python's parser otherwise accepts)."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def _finite_float(literal: str) -> float:
    # 1e400 overflows a double (and 1e200000 PostgreSQL's numeric, failing the whole COPY);
    # 1e-400 silently becomes 0.0. Neither could be read back as written.
    number = float(literal)
    if math.isinf(number) or (
        number == 0 and any(c in "123456789" for c in literal.split("e")[0].split("E")[0])
    ):
        raise ValueError(f"the number {literal[:20]} is out of range for a 64-bit float")
    return number


def _parse_json(value: object, what: str) -> Any:
    if not isinstance(value, str):
        return value
    if "\\u0000" in value:
        # Valid JSON, but PostgreSQL's jsonb cannot store a NUL character.
        raise ValueError("contains an escaped NUL character (\\u0000), which jsonb cannot store")
    try:
        parsed = loads_strict(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:
        raise ValueError(f"invalid JSON ({exc})") from None
    if ("\\ud" in value or "\\uD" in value) and _has_lone_surrogate(parsed):
        # Python accepts an unpaired \ud800-\udfff escape; jsonb refuses it, failing the whole COPY.
        raise ValueError(
            "contains an unpaired surrogate escape (\\ud800-\\udfff), which jsonb cannot store"
        )
    return parsed


def json_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as jsonb (worded as validation words it), or ``None``."""
    try:
        _parse_json(value, "value")
    except ValueError as exc:
        return str(exc)
    return None


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _note(info: ValidationInfo, message: str) -> None:
    context = info.context
    if isinstance(context, dict):
        context.setdefault(WARNINGS_KEY, []).append(message)


def _check_text(data: Any) -> Any:
    """Reject NUL bytes in any field (PostgreSQL text cannot hold them)."""
    if isinstance(data, dict):
        for column, value in data.items():
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(f"{column}: contains a NUL byte")
    return data


def _trim_key(value: str, column: str, info: ValidationInfo) -> str:
    if value and (value[0] in _PAD or value[-1] in _PAD):
        trimmed = value.strip(_PAD)
        _note(info, f"{column}: trimmed surrounding whitespace from {value!r}")
        return trimmed
    return value


def _optional_id(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    return value


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    id: uuid.UUID | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return _check_text(data)

    @field_validator("id", mode="before")
    @classmethod
    def _blank_id(cls, value: object) -> object:
        return _optional_id(value)


class PciControlRow(_Row):
    """One row of ``pci_dss_controls``."""

    control_id: str = Field(max_length=CONTROL_ID_MAX, pattern=CONTROL_ID_PATTERN)
    requirement: str | None = None
    chunk: str = Field(pattern=r"\S")
    metadata: SkipValidation[dict[str, Any]]

    @field_validator("control_id", mode="before")
    @classmethod
    def _trim_control_id(cls, value: object, info: ValidationInfo) -> object:
        return _trim_key(value, "control_id", info) if isinstance(value, str) else value

    @field_validator("requirement", mode="before")
    @classmethod
    def _blank_requirement(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_object(cls, value: object) -> object:
        return _json_object(value)


class AwsConfigRuleRow(_Row):
    """One row of ``aws_config_rules_guidance``."""

    config_rule: str = Field(min_length=1, max_length=CONFIG_RULE_MAX)
    chunk: str = Field(pattern=r"\S")
    metadata: SkipValidation[dict[str, Any]]

    @field_validator("config_rule", mode="before")
    @classmethod
    def _trim_rule(cls, value: object, info: ValidationInfo) -> object:
        return _trim_key(value, "config_rule", info) if isinstance(value, str) else value

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_object(cls, value: object) -> object:
        return _json_object(value)


def _json_object(value: object) -> dict[str, Any]:
    parsed = _parse_json(value, "metadata")
    if not isinstance(parsed, dict):
        raise ValueError(f"must be a JSON object, not {_json_kind(parsed)}")
    return parsed


def _rule_name(entry: Any, position: int) -> str:
    """The rule an entry of ``config_rules`` names; raises ValueError when it names none."""
    name: Any
    if isinstance(entry, str):
        name = entry
    elif isinstance(entry, dict):
        rule, rule_name = entry.get("rule"), entry.get("rule_name")
        if rule is not None and rule_name is not None and rule != rule_name:
            raise ValueError(f"entry {position} names two rules ({rule!r} and {rule_name!r})")
        name = rule if rule is not None else rule_name
        if name is None:
            raise ValueError(f"entry {position} has neither 'rule' nor 'rule_name'")
        if not isinstance(name, str):
            raise ValueError(f"entry {position}: the rule name must be a string")
        weight = entry.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int | float)):
            raise ValueError(f"entry {position}: weight must be a number")
    else:
        raise ValueError(
            f"entry {position} must be a rule name or an object naming one, not {_json_kind(entry)}"
        )
    if not name.strip():
        raise ValueError(f"entry {position}: the rule name is blank")
    if len(name) > CONFIG_RULE_MAX:
        raise ValueError(f"entry {position}: rule name longer than {CONFIG_RULE_MAX} characters")
    return str(name)


def rule_names(config_rules: Iterable[Any]) -> list[str]:
    """The rule names a ``config_rules`` array refers to, in order.

    Entries are plain names or objects naming the rule under ``rule`` or ``rule_name``.

    Raises:
        ValueError: an entry names no rule, or names it badly.
    """
    return [_rule_name(entry, i) for i, entry in enumerate(config_rules, start=1)]


class PciAwsConfigMappingRow(_Row):
    """One row of ``pci_aws_config_rule_mappings``."""

    control_id: str = Field(max_length=CONTROL_ID_MAX, pattern=CONTROL_ID_PATTERN)
    config_rules: SkipValidation[list[Any]]

    @field_validator("control_id", mode="before")
    @classmethod
    def _trim_control_id(cls, value: object, info: ValidationInfo) -> object:
        return _trim_key(value, "control_id", info) if isinstance(value, str) else value

    @field_validator("config_rules", mode="before")
    @classmethod
    def _rules_array(cls, value: object) -> object:
        parsed = _parse_json(value, "config_rules")
        if not isinstance(parsed, list):
            raise ValueError(f"must be a JSON array, not {_json_kind(parsed)}")
        rule_names(parsed)
        return parsed


class _EmbeddingRow(_Row):
    model: str = Field(min_length=1, max_length=MODEL_MAX)
    embedding: str

    @field_validator("model", mode="before")
    @classmethod
    def _trim_model(cls, value: object, info: ValidationInfo) -> object:
        return _trim_key(value, "model", info) if isinstance(value, str) else value

    @field_validator("embedding", mode="before")
    @classmethod
    def _vector(cls, value: object) -> object:
        # Normalised to pgvector's text form, so COPY never meets a value it cannot parse.
        return vector_literal(parse_vector(value))


class PciControlEmbeddingRow(_EmbeddingRow):
    """One row of ``pci_dss_controls_embeddings.csv``: a control's vector from one model."""

    control_id: str = Field(max_length=CONTROL_ID_MAX, pattern=CONTROL_ID_PATTERN)

    @field_validator("control_id", mode="before")
    @classmethod
    def _trim_control_id(cls, value: object, info: ValidationInfo) -> object:
        return _trim_key(value, "control_id", info) if isinstance(value, str) else value


class AwsConfigRuleEmbeddingRow(_EmbeddingRow):
    """One row of ``aws_config_rules_guidance_embeddings.csv``: a rule's vector from one model."""

    config_rule: str = Field(min_length=1, max_length=CONFIG_RULE_MAX)

    @field_validator("config_rule", mode="before")
    @classmethod
    def _trim_rule(cls, value: object, info: ValidationInfo) -> object:
        return _trim_key(value, "config_rule", info) if isinstance(value, str) else value


ROW_MODELS: Final[dict[str, type[_Row]]] = {
    "pci_dss_controls": PciControlRow,
    "aws_config_rules_guidance": AwsConfigRuleRow,
    "pci_aws_config_rule_mappings": PciAwsConfigMappingRow,
    "pci_dss_controls_embeddings": PciControlEmbeddingRow,
    "aws_config_rules_guidance_embeddings": AwsConfigRuleEmbeddingRow,
}

_FRIENDLY: Final = {
    "string_too_long": "longer than {max_length} characters",
    "string_too_short": "must not be empty",
    "missing": "is required",
    "uuid_parsing": "is not a UUID",
    "uuid_type": "is not a UUID",
}


def is_control_id(value: str) -> bool:
    """True when ``value`` has the shape of a PCI DSS control id."""
    return len(value) <= CONTROL_ID_MAX and _CONTROL_ID_RE.match(value) is not None


def describe_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(column, reason)`` for each problem in ``exc``, worded for a report."""
    found: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        column = str(loc[0]) if loc else ""
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "string_pattern_mismatch":
            reason = (
                "must not be blank"
                if column == "chunk"
                else "is not a PCI DSS control id (expected e.g. 1.2.3, A1.1.2)"
            )
        elif kind in _FRIENDLY:
            reason = _FRIENDLY[kind].format(**ctx)
        elif kind == "value_error":
            reason = str(ctx.get("error", error["msg"]))
            if not column and ": " in reason:
                column, reason = reason.split(": ", 1)
        else:
            reason = error["msg"]
        found.append((column, reason))
    return found
