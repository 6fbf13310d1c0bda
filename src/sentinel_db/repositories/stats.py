"""Database statistics: rows, sizes, last import, coverage and stored vectors per table.

Plain SQL through :func:`~sentinel_db.runtime.direct.run`, so the same reads serve a pooled
SQLAlchemy session and a direct connection (the command line's quick reads load no ORM).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from sentinel_db.records.coverage import Coverage
from sentinel_db.records.embeddings import CONTENT_HASH_SQL, CONTROL_EMBEDDINGS, TARGETS
from sentinel_db.records.tables import ALL_TABLES, sql_name
from sentinel_db.runtime.direct import run

# Every table's count and sizes in one statement: a round trip each cost more than the figures.
_FIGURES = " UNION ALL ".join(
    f"SELECT '{table}' AS name, (SELECT count(*) FROM {sql_name(table)}) AS rows,"
    f" pg_table_size('{sql_name(table)}'), pg_indexes_size('{sql_name(table)}'),"
    f" pg_total_relation_size('{sql_name(table)}')"
    for table in ALL_TABLES
)
_LAST_IMPORTS = f"""
    SELECT DISTINCT ON (table_name) table_name, status, started_at, finished_at,
           inserted, updated, unchanged, rejected,
           duration_seconds, rows_per_second, peak_memory_bytes
    FROM {sql_name("import_runs")} WHERE status <> 'skipped'  -- an unchanged file skipped is not an import
    ORDER BY table_name, started_at DESC
"""
# One row per (control, rule) pair, however an entry spells its rule.
_PAIRS = """
    SELECT m.control_id,
           CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}'
                ELSE coalesce(e ->> 'rule', e ->> 'rule_name') END AS rule
    FROM pci_aws_config_rule_mappings m
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE jsonb_typeof(m.config_rules) WHEN 'array' THEN m.config_rules ELSE '[]' END) e
"""
_COVERAGE = f"""
    WITH pairs AS ({_PAIRS}), named AS (SELECT * FROM pairs WHERE rule IS NOT NULL)
    SELECT
      (SELECT count(*) FROM pci_dss_controls) AS controls_total,
      (SELECT count(DISTINCT n.control_id) FROM named n
         JOIN pci_dss_controls c ON c.control_id = n.control_id) AS controls_with_rules,
      (SELECT count(*) FROM aws_config_rules_guidance) AS rules_total,
      (SELECT count(DISTINCT rule) FROM named) AS rules_referenced,
      ARRAY(SELECT c.control_id FROM pci_dss_controls c
            WHERE NOT EXISTS (SELECT 1 FROM named n WHERE n.control_id = c.control_id)
            ORDER BY c.control_id) AS controls_without_rules,
      ARRAY(SELECT DISTINCT n.rule FROM named n
            WHERE NOT EXISTS (SELECT 1 FROM aws_config_rules_guidance g
                              WHERE g.config_rule = n.rule)
            ORDER BY n.rule) AS rules_missing_guidance,
      ARRAY(SELECT m.control_id FROM pci_aws_config_rule_mappings m
            WHERE NOT EXISTS (SELECT 1 FROM pci_dss_controls c
                              WHERE c.control_id = m.control_id)
            ORDER BY m.control_id) AS mappings_without_control
"""
_VECTORS = (
    "SELECT e.model, e.dimensions, count(*),"
    " count(*) FILTER (WHERE e.content_sha256 <> {hash}),"
    " count(*) FILTER (WHERE p.{key} IS NULL)"
    " FROM {table} e LEFT JOIN {parent} p ON p.{key} = e.{key}"
    " GROUP BY e.model, e.dimensions ORDER BY e.model, e.dimensions"
)


class LastImport(BaseModel):
    """The latest import of one table."""

    model_config = ConfigDict(frozen=True)

    status: str
    started_at: datetime
    finished_at: datetime | None
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    duration_seconds: float | None = None
    rows_per_second: float | None = None
    peak_memory_bytes: int | None = None


class TableStats(BaseModel):
    """Size and freshness of one table."""

    model_config = ConfigDict(frozen=True)

    table: str
    rows: int
    table_bytes: int
    index_bytes: int
    total_bytes: int
    last_import: LastImport | None = None


class DatabaseStats(BaseModel):
    """Every table's figures plus mapping coverage."""

    model_config = ConfigDict(frozen=True)

    tables: list[TableStats]
    coverage: Coverage
    vectors: list[ModelStats] | None = None  # None: the vectors schema is not installed


class ModelStats(BaseModel):
    """Stored vectors of one model in one table."""

    model_config = ConfigDict(frozen=True)

    table: str
    model: str
    dimensions: int
    vectors: int
    stale: int
    orphaned: int = 0  # vectors whose control or rule no longer exists


def count_rows(session: Any, tables: tuple[str, ...] = ALL_TABLES) -> dict[str, int]:
    """Row count of each of ``tables`` (known table names only)."""
    return {
        table: int(
            run(
                session, f"SELECT count(*) FROM {sql_name(table)}", action="count rows"
            ).scalar_one()
        )
        for table in tables
    }


def coverage_of(session: Any) -> Coverage:
    """Controls without rules, rules without guidance, mappings without a control."""
    row = run(session, _COVERAGE, action="compute coverage").mappings().one()
    return Coverage.model_validate(dict(row))


def vector_stats(session: Any) -> list[ModelStats] | None:
    """Vectors per table and model, with their dimension and how many are stale or orphaned.

    ``None`` when the vectors schema is not installed. A vector is stale when the SHA-256 of
    its row's current text differs from the hash stored with it, orphaned when its row is gone
    (no foreign key ties the vectors to the rows, so that each can be rolled back alone).
    """
    installed = run(
        session, "SELECT to_regclass(:t)", {"t": CONTROL_EMBEDDINGS.table}, action="read statistics"
    ).scalar_one()
    if installed is None:
        return None
    found: list[ModelStats] = []
    for target in TARGETS.values():
        statement = _VECTORS.format(
            table=target.table,
            parent=target.parent,
            key=target.key,
            hash=CONTENT_HASH_SQL.format(alias="p"),
        )
        found.extend(
            ModelStats(table=target.table, model=m, dimensions=d, vectors=n, stale=s, orphaned=o)
            for m, d, n, s, o in run(session, statement, action="read statistics").all()
        )
    return found


def database_stats(session: Any) -> DatabaseStats:
    """Row counts, table and index sizes, last import per table, coverage and stored vectors."""
    imports = {
        row["table_name"]: LastImport.model_validate(dict(row))
        for row in run(session, _LAST_IMPORTS, action="read statistics").mappings()
    }
    figures = {row[0]: row[1:] for row in run(session, _FIGURES, action="read statistics")}
    tables = []
    for table in ALL_TABLES:  # in this order, whatever order the statement's rows came in
        rows, size, indexes, total = figures[table]
        tables.append(
            TableStats(
                table=table,
                rows=int(rows),
                table_bytes=int(size),
                index_bytes=int(indexes),
                total_bytes=int(total),
                last_import=imports.get(table),
            )
        )
    return DatabaseStats(
        tables=tables, coverage=coverage_of(session), vectors=vector_stats(session)
    )
