"""Shared pieces of the importer's property-based tests: settings, strategies, checks."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sentinel_db.importers.export import COLUMNS
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import sql_name
from sentinel_db.records.validation import CONTROL_ID_PATTERN
from sentinel_db.runtime.db import Database

HEAVY = os.environ.get("SENTINEL_HYPOTHESIS_PROFILE", "").lower() == "heavy"
CONTROLS = "pci_dss_controls"
RULES = "aws_config_rules_guidance"
MAPPINGS = "pci_aws_config_rule_mappings"
KEYS = {CONTROLS: "control_id", RULES: "config_rule", MAPPINGS: "control_id"}
JSON_COLUMNS = {"metadata", "config_rules"}
MAX_FIELD = 16 * 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def bounded(examples: int) -> Callable[[F], F]:
    """Hypothesis settings: ``examples`` in CI (reproducible), twenty times more when heavy."""
    return settings(
        max_examples=examples * 20 if HEAVY else examples,
        derandomize=not HEAVY,
        database=None,
        deadline=None,
        # Shrinking a database-backed failure can take minutes; CI reports the raw example.
        phases=tuple(Phase) if HEAVY else (Phase.explicit, Phase.reuse, Phase.generate),
        # The fixtures used are reset inside every example (tables truncated, fresh folders).
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- strategies -------------------------------------------------------------------------------

# Any Unicode text PostgreSQL can store: no NUL, no lone surrogates (not encodable as UTF-8).
safe_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
safe_text = st.text(safe_chars, max_size=30)
alnum = st.characters(whitelist_categories=("L", "Nd"))


@st.composite
def contentful(draw: st.DrawFn) -> str:
    """Any text with at least one letter or digit in it (so never blank)."""
    return draw(safe_text) + draw(alnum) + draw(safe_text)


control_ids = st.from_regex(CONTROL_ID_PATTERN, fullmatch=True).filter(lambda s: len(s) <= 20)
rule_names = contentful().filter(lambda s: len(s) <= 100 and s.strip(" \t") == s)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | safe_text
)


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(safe_text, inner, max_size=3)


json_values = st.recursive(json_scalars, _nested, max_leaves=10)
json_objects = st.dictionaries(safe_text, json_values, max_size=4)


def mapping_entries(rules: list[str]) -> st.SearchStrategy[Any]:
    """``config_rules`` entries: a rule name, or an object naming it (plus other keys)."""
    name = st.sampled_from(rules)
    extras = st.fixed_dictionaries(
        {}, optional={"guidance": safe_text, "weight": st.integers(-5, 5) | st.floats(0, 1)}
    )
    as_object = st.builds(
        lambda key, rule, more: {key: rule, **more},
        st.sampled_from(["rule", "rule_name"]),
        name,
        extras,
    )
    return name | as_object


@st.composite
def record_sets(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    """Valid controls, rules and mappings with unique keys (and ids, when they have ids)."""
    with_ids = draw(st.booleans())

    def ids(n: int) -> list[str]:
        if not with_ids:
            return [""] * n
        return [str(u) for u in draw(st.lists(st.uuids(), min_size=n, max_size=n, unique=True))]

    keys = draw(st.lists(control_ids, max_size=5, unique=True))
    rules = draw(st.lists(rule_names, max_size=4, unique=True))
    mapped = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    controls = [
        {
            "id": row_id,
            "control_id": key,
            "requirement": draw(st.none() | contentful()),
            "chunk": draw(contentful()),
            "metadata": draw(json_objects),
        }
        for row_id, key in zip(ids(len(keys)), keys, strict=True)
    ]
    guidance = [
        {
            "id": row_id,
            "config_rule": name,
            "chunk": draw(contentful()),
            "metadata": draw(json_objects),
        }
        for row_id, name in zip(ids(len(rules)), rules, strict=True)
    ]
    mappings = [
        {
            "id": row_id,
            "control_id": key,
            "config_rules": draw(st.lists(mapping_entries(rules), max_size=3)) if rules else [],
        }
        for row_id, key in zip(ids(len(mapped)), mapped, strict=True)
    ]
    return {CONTROLS: controls, RULES: guidance, MAPPINGS: mappings}


# --- helpers ----------------------------------------------------------------------------------


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON documents (numbers by value, as jsonb stores them)."""

    def canon(value: Any) -> Any:
        return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)

    return bool(canon(a) == canon(b))


def truncate(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(sql_name(t) for t in ALL_TABLES)))


def db_rows(db: Database, table: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
        return [dict(r._mapping) for r in conn.execute(text(f"SELECT {columns} FROM {table}"))]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False) if column in JSON_COLUMNS else str(value)


def assert_same_records(table: str, written: list[dict[str, Any]], exported: Path) -> None:
    """The exported file holds exactly the written records (ids too, when they were given)."""
    key = KEYS[table]
    got = {row[key]: row for row in read_csv(exported)}
    assert set(got) == {row[key] for row in written}
    for row in written:
        out = got[row[key]]
        if row["id"]:
            assert out["id"] == row["id"]
        for column in COLUMNS[table]:
            if column in ("id", key):
                continue
            if column in JSON_COLUMNS:
                assert same_json(json.loads(out[column]), row[column]), column
            else:
                assert out[column] == (row[column] or ""), column


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8", **fmt: Any
) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, **fmt)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    return path
