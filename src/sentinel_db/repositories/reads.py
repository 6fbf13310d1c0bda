"""Reads by key and in key order, in plain SQL: a SQLAlchemy session or a direct one alike.

The repositories answer these questions with ORM rows; the functions here answer with records,
through :func:`~sentinel_db.runtime.direct.run`, so that ``data list`` and ``data show`` need no
ORM. Where a repository method asks the same question (the rules of controls, the controls of a
rule, keys that read alike), it calls the function here.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from sentinel_db.errors import NotFoundError
from sentinel_db.records.rows import AwsConfigRule, MappedRule, Record, rule_name_of
from sentinel_db.records.rows import PciAwsConfigMapping as MappingRecord
from sentinel_db.records.rows import PciControl as ControlRecord
from sentinel_db.records.tables import (
    COLUMNS_BY_TABLE,
    CONTROLS,
    KEY_BY_TABLE,
    MAPPINGS,
    RULES,
    sql_name,
)
from sentinel_db.runtime.direct import run

RECORD_BY_TABLE: dict[str, type[Record]] = {
    CONTROLS: ControlRecord,
    RULES: AwsConfigRule,
    MAPPINGS: MappingRecord,
}


def _select(table: str) -> str:
    return f"SELECT {', '.join(COLUMNS_BY_TABLE[table])} FROM {sql_name(table)}"


def list_records(session: Any, table: str, *, limit: int = 10, offset: int = 0) -> list[Record]:
    """Records of ``table`` in key order, ``limit`` of them after skipping ``offset``."""
    key = KEY_BY_TABLE[table]
    rows = run(
        session,
        f"{_select(table)} ORDER BY {key} LIMIT :limit OFFSET :offset",
        {"limit": limit, "offset": offset},
        action=f"list {table}",
    ).mappings()
    return [RECORD_BY_TABLE[table].model_validate(dict(row)) for row in rows]


def record_by_key(session: Any, table: str, key: str) -> Record:
    """The record of ``table`` whose natural key is ``key``.

    Raises:
        NotFoundError: there is none.
    """
    name = KEY_BY_TABLE[table]
    rows = (
        run(session, f"{_select(table)} WHERE {name} = :key", {"key": key}, action=f"read {table}")
        .mappings()
        .all()
    )
    if not rows:
        raise NotFoundError(f"{table}: no row with {name} {key!r}")
    return RECORD_BY_TABLE[table].model_validate(dict(rows[0]))


def key_exists(session: Any, table: str, key: str) -> bool:
    """True when ``table`` has a row whose natural key is ``key``."""
    statement = (
        f"SELECT EXISTS (SELECT 1 FROM {sql_name(table)} WHERE {KEY_BY_TABLE[table]} = :key)"
    )
    return bool(run(session, statement, {"key": key}, action=f"read {table}").scalar_one())


def near_keys(session: Any, table: str, key: str, *, limit: int = 5) -> list[str]:
    """Keys of ``table`` a person who typed ``key`` may have meant, best first.

    The controls under a control id (``10.2`` -> ``10.2.1``, ``10.2.2``) if there are any;
    otherwise keys that read alike.
    """
    name = KEY_BY_TABLE[table]
    statement = f"SELECT {name} FROM {sql_name(table)} ORDER BY {name}"
    keys = [str(k) for k in run(session, statement, action=f"read {table}").scalars()]
    wanted = key.strip()
    under = [k for k in keys if k.lower().startswith(wanted.lower() + ".")]
    if under:
        return under[:limit]
    return difflib.get_close_matches(wanted, keys, n=limit, cutoff=0.6)


def rules_for_controls(
    session: Any, control_ids: Sequence[str], *, with_guidance: bool = False
) -> dict[str, list[MappedRule]]:
    """The rules mapped to each of ``control_ids``, in mapping order (every id a key).

    With ``with_guidance``, each rule carries its guidance record when the table has one.
    """
    found: dict[str, list[str]] = {c: [] for c in control_ids}
    if control_ids:
        rows = run(
            session,
            f"SELECT control_id, config_rules FROM {sql_name(MAPPINGS)}"
            " WHERE control_id = ANY (CAST(:ids AS text[]))",
            {"ids": list(control_ids)},
            action="read mappings",
        )
        for control_id, config_rules in rows:
            names = map(rule_name_of, config_rules)
            found[control_id] = list(dict.fromkeys(n for n in names if n))
    wanted = sorted({n for names in found.values() for n in names})
    guidance: dict[str, AwsConfigRule] = {}
    if with_guidance and wanted:
        rows = run(
            session,
            f"{_select(RULES)} WHERE config_rule = ANY (CAST(:names AS text[]))",
            {"names": wanted},
            action="read guidance",
        ).mappings()
        guidance = {r["config_rule"]: AwsConfigRule.model_validate(dict(r)) for r in rows}
    return {
        control_id: [MappedRule(rule=name, guidance=guidance.get(name)) for name in names]
        for control_id, names in found.items()
    }


def controls_for_rule(session: Any, rule: str) -> list[str]:
    """Control ids whose mapping names ``rule`` (as a string or under ``rule``/``rule_name``).

    Three containment tests OR-ed together, each served by the GIN index on ``config_rules``
    (a BitmapOr of index scans).
    """
    shapes = [[rule], [{"rule": rule}], [{"rule_name": rule}]]
    statement = (
        f"SELECT control_id FROM {sql_name(MAPPINGS)}"
        " WHERE config_rules @> CAST(:a AS jsonb) OR config_rules @> CAST(:b AS jsonb)"
        " OR config_rules @> CAST(:c AS jsonb) ORDER BY control_id"
    )
    params = dict(zip("abc", (json.dumps(s) for s in shapes), strict=True))
    return [str(c) for c in run(session, statement, params, action="read mappings").scalars()]
