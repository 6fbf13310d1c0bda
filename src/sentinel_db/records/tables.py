"""The tables by name: keys, readable columns, schemas, and the names people use for them.

Plain values, without SQLAlchemy, so that a short read need not load the ORM; the ORM models in
:mod:`sentinel_db.records.models` define the same tables, and a test holds the two together.
"""

from __future__ import annotations

from sentinel_db.errors import UsageError

# Bookkeeping (import history, the schema version) lives in a schema the Supabase Data API does not
# serve; the reference tables stay in the connection's current schema (``public``).
BOOKKEEPING_SCHEMA = "sentinel_db"

CONTROLS = "pci_dss_controls"
RULES = "aws_config_rules_guidance"
MAPPINGS = "pci_aws_config_rule_mappings"
IMPORT_RUNS = "import_runs"

REFERENCE_TABLES: tuple[str, ...] = (CONTROLS, RULES, MAPPINGS)
ALL_TABLES: tuple[str, ...] = (*REFERENCE_TABLES, IMPORT_RUNS)
SCHEMA_BY_TABLE: dict[str, str | None] = {
    CONTROLS: None,
    RULES: None,
    MAPPINGS: None,
    IMPORT_RUNS: BOOKKEEPING_SCHEMA,
}
KEY_BY_TABLE: dict[str, str] = {
    CONTROLS: "control_id",
    RULES: "config_rule",
    MAPPINGS: "control_id",
}
# Every column a record is read from (the generated search column left out), in table order.
COLUMNS_BY_TABLE: dict[str, tuple[str, ...]] = {
    CONTROLS: ("id", "control_id", "requirement", "chunk", "metadata"),
    RULES: ("id", "config_rule", "chunk", "metadata"),
    MAPPINGS: ("id", "control_id", "config_rules"),
}

ALL = "all"
ALIASES: dict[str, str] = {
    "controls": CONTROLS,
    "rules": RULES,
    "guidance": RULES,
    "mappings": MAPPINGS,
}


def sql_name(table: str) -> str:
    """``table`` as SQL names it: schema-qualified when it lives outside the current schema."""
    schema = SCHEMA_BY_TABLE.get(table)
    return f"{schema}.{table}" if schema else table


def search_statistics(table: str) -> tuple[str, str]:
    """The term-statistics tables (terms, totals) that triggers keep for ``table``'s search."""
    return (
        f"{BOOKKEEPING_SCHEMA}.{table}_search_terms",
        f"{BOOKKEEPING_SCHEMA}.{table}_search_totals",
    )


def resolve_tables(name: str, *, allowed: tuple[str, ...] = REFERENCE_TABLES) -> tuple[str, ...]:
    """The tables ``name`` means: one of ``allowed``, an alias of one, or ``all`` (all of them).

    Raises:
        UsageError: ``name`` is none of these (the message lists the valid names).
    """
    cleaned = name.strip().lower()
    if cleaned == ALL:
        return allowed
    table = ALIASES.get(cleaned, cleaned)
    if table in allowed:
        return (table,)
    valid = ", ".join((*allowed, *(a for a, t in ALIASES.items() if t in allowed), ALL))
    raise UsageError(
        f"unknown table {name!r}; valid names: {valid}",
        hint="`sentinel-db stats` lists the tables and their rows",
    )
