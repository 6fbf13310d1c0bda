"""Row-level security and privileges: what the database has, what Supabase needs, reapplying them.

The model lives in :mod:`sentinel_db.schema.access`: RLS on every sentinel-db table; ``authenticated``
may SELECT the reference tables, ``anon`` too only when ``RLS_ANON_READ`` is true; nobody writes
through the API; bookkeeping sits in the ``sentinel_db`` schema, closed to every API role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db.errors import translate
from sentinel_db.records.models import ALL_TABLES
from sentinel_db.records.tables import BOOKKEEPING_SCHEMA
from sentinel_db.schema import access
from sentinel_db.schema.access import ANON_POLICY as ANON_POLICY
from sentinel_db.schema.access import API_ROLES
from sentinel_db.schema.access import AUTHENTICATED_POLICY as AUTHENTICATED_POLICY
from sentinel_db.schema.lints import API_TABLES, lint

if TYPE_CHECKING:
    from sentinel_db.runtime.db import Database

# Every table whose security is inspected and reapplied (the embeddings tables when present).
_KNOWN_TABLES: tuple[str, ...] = (*ALL_TABLES, *(t for t in API_TABLES if t not in ALL_TABLES))

SUPABASE_ROLES = API_ROLES
# Findings that mean the schema itself is not what the revisions made (``db check`` fails on them).
_SCHEMA_LINTS = {"rls_disabled_in_public", "rls_disabled", "policy_exists_rls_disabled"}

_TABLES_SQL = text(
    """
    SELECT c.relname, c.relrowsecurity, n.nspname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN (current_schema(), :schema) AND c.relkind IN ('r', 'p')
      AND c.relname = ANY(:tables)
    """
)
_POLICIES_SQL = text(
    """
    SELECT tablename, policyname, cmd, roles::text[]
    FROM pg_policies
    WHERE schemaname IN (current_schema(), :schema) AND tablename = ANY(:tables)
    ORDER BY tablename, policyname
    """
)
_ROLES_SQL = text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:roles)")
_VERSION_TABLE = "sentinel_db_alembic_version"


@dataclass(frozen=True)
class Policy:
    """One row-level-security policy on a table."""

    name: str
    command: str
    roles: tuple[str, ...]


@dataclass
class TableSecurity:
    """Row-level security of one sentinel-db table."""

    name: str
    schema: str
    rls_enabled: bool
    policies: list[Policy] = field(default_factory=list)

    @property
    def sql_name(self) -> str:
        """Schema-qualified name."""
        return f"{self.schema}.{self.name}"


@dataclass
class SecurityState:
    """RLS on each existing table, and which Supabase roles the server has."""

    tables: list[TableSecurity]
    roles: set[str]

    def missing_policies(self) -> list[str]:
        """``table.policy`` for each policy the present roles need but the database lacks."""
        if "authenticated" not in self.roles:
            return []
        missing = []
        for table in self.tables:
            names = {p.name for p in table.policies}
            if table.name in API_TABLES and AUTHENTICATED_POLICY not in names:
                missing.append(f"{table.name}.{AUTHENTICATED_POLICY}")
        return missing


def inspect_security(conn: Connection) -> SecurityState:
    """Read RLS flags, policies and Supabase roles over ``conn``."""
    params = {"tables": list(_KNOWN_TABLES), "schema": BOOKKEEPING_SCHEMA}
    tables = {
        name: TableSecurity(name=name, schema=schema, rls_enabled=bool(enabled))
        for name, enabled, schema in conn.execute(_TABLES_SQL, params)
    }
    for table, name, command, roles in conn.execute(_POLICIES_SQL, params):
        tables[table].policies.append(Policy(str(name), str(command), tuple(roles or ())))
    roles = {str(r) for (r,) in conn.execute(_ROLES_SQL, {"roles": list(SUPABASE_ROLES)})}
    ordered = [tables[name] for name in _KNOWN_TABLES if name in tables]
    return SecurityState(tables=ordered, roles=roles)


def security_state(db: Database) -> SecurityState:
    """:func:`inspect_security` on the write engine.

    Raises:
        ConnectionFailedError, DatabaseError: the catalog could not be read.
    """
    try:
        with db.engine.connect() as conn:
            return inspect_security(conn)
    except SQLAlchemyError as exc:
        raise translate(exc, action="read row-level security") from exc


def policy_statements(state: SecurityState, *, anon_read: bool) -> list[str]:
    """SQL that gives every existing table the access model; safe to run again (idempotent)."""
    statements: list[str] = []
    for table in state.tables:
        if table.name in API_TABLES:
            statements += access.api_table_sql(table.name, anon_read=anon_read)
        else:
            statements += access.private_table_sql(table.sql_name)
    if any(t.schema == BOOKKEEPING_SCHEMA for t in state.tables):
        statements += access.private_schema_sql(BOOKKEEPING_SCHEMA)
        statements += access.private_table_sql(f"{BOOKKEEPING_SCHEMA}.{_VERSION_TABLE}")
    return statements


def apply_policies(db: Database, *, anon_read: bool) -> SecurityState:
    """Switch RLS on, (re)create the policies and cut privileges to the model, atomically.

    Use it when the roles appeared after ``migrate``, to turn anon read access on or off, or to
    take back privileges granted since.

    Raises:
        DatabaseError: the statements failed (for example, not the tables' owner).
    """
    try:
        with db.engine.begin() as conn:
            state = inspect_security(conn)
            access.run_statements(conn, policy_statements(state, anon_read=anon_read))
            return inspect_security(conn)
    except SQLAlchemyError as exc:
        raise translate(exc, action="apply row-level security policies") from exc


def _describe(table: TableSecurity) -> str:
    policies = ", ".join(f"{p.name} ({p.command} to {', '.join(p.roles)})" for p in table.policies)
    return (
        f"rls:       {table.name}: {'on' if table.rls_enabled else 'OFF'}; "
        f"policies: {policies or 'none'}"
    )


def check_report(db: Database) -> dict[str, list[str]]:
    """Lines and warnings about RLS, privileges and the advisor's lints, for ``auth check``.

    ``warnings``: every ERROR or WARN lint finding on sentinel-db's objects (see
    :mod:`sentinel_db.schema.lints`), and Supabase roles present without the policies they need.
    ``schema_warnings``: the subset that ``db check`` treats as drift (RLS and policies).
    """
    try:
        with db.engine.connect() as conn:
            state = inspect_security(conn)
            findings = lint(conn)
    except SQLAlchemyError as exc:
        raise translate(exc, action="read row-level security") from exc
    lines = [_describe(table) for table in state.tables]
    present = ", ".join(r for r in SUPABASE_ROLES if r in state.roles)
    lines.append(
        f"roles:     Supabase roles present: {present}"
        if present
        else "roles:     no Supabase roles (plain PostgreSQL): no policies needed"
    )
    lines.append(f"lints:     {len(findings) or 'no'} problem(s) found")
    warnings = [str(finding) for finding in findings]
    schema_warnings = [str(f) for f in findings if f.name in _SCHEMA_LINTS]
    missing = state.missing_policies()
    if missing:
        message = (
            "Supabase roles exist but these policies are missing: "
            + ", ".join(missing)
            + "; run `sentinel-db auth policies` to create them"
        )
        warnings.append(message)
        schema_warnings.append(message)
    for table in state.tables:
        if table.name not in API_TABLES:
            exposed = [p.name for p in table.policies if set(p.roles) & {"anon", "authenticated"}]
            if exposed:
                message = (
                    f"{table.name} should not be readable through the API, but policies "
                    f"{', '.join(exposed)} grant anon/authenticated access"
                )
                warnings.append(message)
                schema_warnings.append(message)
    return {"lines": lines, "warnings": warnings, "schema_warnings": schema_warnings}
