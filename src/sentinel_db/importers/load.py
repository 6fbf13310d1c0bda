"""The database side of one file: staging table, checks in SQL, and the upsert.

Everything here runs inside the caller's transaction: the staging tables are dropped on commit
and the advisory lock is transaction-scoped, so this also works through a transaction pooler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from sentinel_db.importers.report import PHASE_INSERT, PHASE_UPDATE
from sentinel_db.importers.tables import TableSpec

_LOCK_PREFIX = "sentinel_db.import:"


@dataclass(frozen=True)
class Issue:
    """A problem found in SQL: ``severity`` is error (rejected), duplicate (dropped) or warning."""

    line: int
    column: str
    reason: str
    severity: str
    row: dict[str, Any]


@dataclass(frozen=True)
class Counts:
    """What the upsert did."""

    inserted: int
    updated: int
    unchanged: int


class Stage:
    """A temporary staging table for one file, plus its issue list."""

    def __init__(self, conn: psycopg.Connection[Any], spec: TableSpec, number: int) -> None:
        self.conn = conn
        self.spec = spec
        self.table = sql.Identifier(f"sentinel_stage_{number}")
        self.issues = sql.Identifier(f"sentinel_stage_{number}_issues")
        self.key = sql.Identifier(spec.key)
        self.target = sql.Identifier(spec.name)

    def create(self) -> None:
        """Create the staging and issue tables (dropped when the transaction ends)."""
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
            for name, kind in zip(self.spec.columns, self.spec.types, strict=True)
        )
        self.conn.execute(
            sql.SQL("CREATE TEMP TABLE {} (line int4 NOT NULL, {}) ON COMMIT DROP").format(
                self.table, columns
            )
        )
        self.conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (line int4, column_name text, reason text, severity text,"
                " row_data jsonb) ON COMMIT DROP"
            ).format(self.issues)
        )

    def copy_statement(self) -> sql.Composed:
        """The COPY statement feeding the staging table."""
        names = sql.SQL(", ").join(sql.Identifier(n) for n in ("line", *self.spec.columns))
        return sql.SQL("COPY {} ({}) FROM STDIN").format(self.table, names)

    def lock(self) -> None:
        """Serialise imports into the same table until this transaction ends."""
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (_LOCK_PREFIX + self.spec.name,),
        )

    def _columns(self, alias: str, names: tuple[str, ...]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)

    def _move_issues(self, query: sql.Composable) -> None:
        """Record issues found by ``query`` and drop rejected/duplicate rows from staging."""
        self.conn.execute(
            sql.SQL("INSERT INTO {} (line, column_name, reason, severity, row_data) {}").format(
                self.issues, query
            )
        )
        self.conn.execute(
            sql.SQL(
                "DELETE FROM {s} s USING {i} i WHERE s.line = i.line"
                " AND i.severity IN ('error', 'duplicate')"
            ).format(s=self.table, i=self.issues)
        )

    def check_duplicates(self, *, has_ids: bool) -> None:
        """Repeated keys and ids within the file, and ids that belong to another key."""
        content = ("id", *self.spec.content)
        self._move_issues(
            sql.SQL(
                "SELECT s.line, {kname}, CASE WHEN same THEN format("
                "'exact duplicate of line %s; imported once', f.line) ELSE format("
                "'duplicate {kraw} %L: differs from line %s (the first is kept)', s.{k}, f.line) END,"
                " CASE WHEN same THEN 'duplicate' ELSE 'error' END, to_jsonb(s) - 'line'"
                " FROM (SELECT {k} AS k, min(line) AS first FROM {t} GROUP BY {k}"
                " HAVING count(*) > 1) d JOIN {t} f ON f.line = d.first"
                " JOIN {t} s ON s.{k} = d.k AND s.line <> d.first,"
                " LATERAL (SELECT ({sc}) IS NOT DISTINCT FROM ({fc}) AS same) c"
            ).format(
                kname=sql.Literal(self.spec.key),
                kraw=sql.SQL(self.spec.key),
                k=self.key,
                t=self.table,
                sc=self._columns("s", content),
                fc=self._columns("f", content),
            )
        )
        if not has_ids:
            return
        self._move_issues(
            sql.SQL(
                "SELECT s.line, 'id', format('id %s is also used at line %s', s.id, d.first),"
                " 'error', to_jsonb(s) - 'line'"
                " FROM (SELECT id, min(line) AS first FROM {t} WHERE id IS NOT NULL GROUP BY id"
                " HAVING count(*) > 1) d JOIN {t} s ON s.id = d.id AND s.line <> d.first"
            ).format(t=self.table)
        )
        self._move_issues(
            sql.SQL(
                "SELECT s.line, 'id', format('id %s already belongs to {kraw} %L', s.id, x.{k}),"
                " 'error', to_jsonb(s) - 'line'"
                " FROM {t} s JOIN {target} x ON x.id = s.id WHERE x.{k} <> s.{k}"
            ).format(t=self.table, target=self.target, k=self.key, kraw=sql.SQL(self.spec.key))
        )

    def check_references(self, *, strict: bool) -> None:
        """Mapping rows naming controls or rules that are not loaded (errors when strict)."""
        severity = "error" if strict else "warning"
        self._move_issues(
            sql.SQL(
                "SELECT s.line, 'control_id', format('control %L is not in pci_dss_controls',"
                " s.control_id), {sev}, to_jsonb(s) - 'line' FROM {t} s WHERE NOT EXISTS"
                " (SELECT 1 FROM pci_dss_controls c WHERE c.control_id = s.control_id)"
            ).format(t=self.table, sev=sql.Literal(severity))
        )
        self._move_issues(
            sql.SQL(
                "SELECT s.line, 'config_rules', format('rule %L is not in"
                " aws_config_rules_guidance', r.name), {sev}, to_jsonb(s) - 'line' FROM {t} s"
                " CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{{}}'"
                " ELSE coalesce(e ->> 'rule', e ->> 'rule_name') END AS name"
                " FROM jsonb_array_elements(CASE jsonb_typeof(s.config_rules) WHEN 'array'"
                " THEN s.config_rules ELSE '[]'::jsonb END) e) r"
                " WHERE NOT EXISTS (SELECT 1 FROM aws_config_rules_guidance g"
                " WHERE g.config_rule = r.name)"
            ).format(t=self.table, sev=sql.Literal(severity))
        )

    def issues_found(self) -> Iterator[Issue]:
        """Stream the recorded issues in line order."""
        with self.conn.cursor(name="sentinel_issues") as cur:
            cur.execute(
                sql.SQL(
                    "SELECT line, column_name, reason, severity, row_data FROM {}"
                    " ORDER BY line, severity"
                ).format(self.issues)
            )
            for line, column, reason, severity, row in cur:
                yield Issue(int(line), str(column), str(reason), str(severity), dict(row or {}))

    def upsert(self, *, on_phase: Callable[[str], None] | None = None) -> Counts:
        """Insert new keys, update rows whose content changed, leave the rest untouched.

        ``on_phase`` hears when the update and the insert begin (for progress displays).
        """
        tell = on_phase or (lambda name: None)
        staged = self._scalar(sql.SQL("SELECT count(*) FROM {}").format(self.table))
        names = self.spec.columns
        insert_names = sql.SQL(", ").join(sql.Identifier(n) for n in names)
        select = sql.SQL(", ").join(
            sql.SQL("coalesce(s.id, gen_random_uuid())") if n == "id" else sql.Identifier("s", n)
            for n in names
        )
        target_empty = not self._scalar(
            sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) x").format(self.target)
        )
        updated = 0
        if target_empty:
            where: sql.Composable = sql.SQL("")
        else:
            content = self.spec.content
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = s.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in content
            )
            tell(PHASE_UPDATE)
            cur = self.conn.execute(
                sql.SQL(
                    "UPDATE {target} t SET {assign} FROM {s} s WHERE t.{k} = s.{k}"
                    " AND ({tc}) IS DISTINCT FROM ({sc})"
                ).format(
                    target=self.target,
                    assign=assignments,
                    s=self.table,
                    k=self.key,
                    tc=self._columns("t", content),
                    sc=self._columns("s", content),
                )
            )
            updated = max(cur.rowcount, 0)
            where = sql.SQL(
                " WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{k} = s.{k})"
            ).format(target=self.target, k=self.key)
        tell(PHASE_INSERT)
        cur = self.conn.execute(
            sql.SQL("INSERT INTO {target} ({names}) SELECT {select} FROM {s} s{where}").format(
                target=self.target, names=insert_names, select=select, s=self.table, where=where
            )
        )
        inserted = max(cur.rowcount, 0)
        return Counts(inserted=inserted, updated=updated, unchanged=staged - inserted - updated)

    def _scalar(self, query: sql.Composed) -> int:
        row = self.conn.execute(query).fetchone()
        return int(row[0]) if row else 0
