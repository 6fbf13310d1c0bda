"""Row-level security: what the database has, what Supabase needs, and (re)applying policies.

The model (revision 0006): RLS is on for every sentinel-db table; ``authenticated`` may SELECT
the reference tables; ``anon`` may too only when ``RLS_ANON_READ`` is true; nobody writes
through a policy (``service_role`` and the owner bypass RLS); ``import_runs`` has no policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from sentinel_db.db import Database
from sentinel_db.errors import translate
from sentinel_db.models import ALL_TABLES, REFERENCE_TABLES

AUTHENTICATED_POLICY = "sentinel_db_authenticated_read"
ANON_POLICY = "sentinel_db_anon_read"
SUPABASE_ROLES = ("anon", "authenticated", "service_role")

_TABLES_SQL = text(
    """
    SELECT c.relname, c.relrowsecurity, n.nspname
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND c.relname = ANY(:tables)
    """
)
_POLICIES_SQL = text(
    """
    SELECT tablename, policyname, cmd, roles::text[]
    FROM pg_policies
    WHERE schemaname = current_schema() AND tablename = ANY(:tables)
    ORDER BY tablename, policyname
    """
)
_ROLES_SQL = text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:roles)")


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
            if table.name in REFERENCE_TABLES and AUTHENTICATED_POLICY not in names:
                missing.append(f"{table.name}.{AUTHENTICATED_POLICY}")
        return missing


def inspect_security(conn: Connection) -> SecurityState:
    """Read RLS flags, policies and Supabase roles over ``conn``."""
    tables = {
        name: TableSecurity(name=name, schema=schema, rls_enabled=bool(enabled))
        for name, enabled, schema in conn.execute(_TABLES_SQL, {"tables": list(ALL_TABLES)})
    }
    for table, name, command, roles in conn.execute(_POLICIES_SQL, {"tables": list(ALL_TABLES)}):
        tables[table].policies.append(Policy(str(name), str(command), tuple(roles or ())))
    roles = {str(r) for (r,) in conn.execute(_ROLES_SQL, {"roles": list(SUPABASE_ROLES)})}
    ordered = [tables[name] for name in ALL_TABLES if name in tables]
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


def policy_statements(*, anon_read: bool) -> list[str]:
    """SQL that makes the policies match the model; safe to run again (idempotent).

    Every name is a constant of this module: nothing from user input is formatted in.
    """
    statements = [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY" for table in ALL_TABLES]
    for role, policy, wanted in (
        ("authenticated", AUTHENTICATED_POLICY, True),
        ("anon", ANON_POLICY, anon_read),
    ):
        for table in REFERENCE_TABLES:
            statements.append(f"DROP POLICY IF EXISTS {policy} ON {table}")
        if not wanted:
            continue
        creates = "\n".join(
            f"    CREATE POLICY {policy} ON {table} AS PERMISSIVE FOR SELECT TO {role} USING (true);"
            for table in REFERENCE_TABLES
        )
        statements.append(
            "DO $$\nBEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN\n"
            f"{creates}\n"
            "  END IF;\nEND $$"
        )
    return statements


def apply_policies(db: Database, *, anon_read: bool) -> SecurityState:
    """Switch RLS on and (re)create the policies for the Supabase roles that exist, atomically.

    Use it when the roles appeared after ``migrate``, or to turn anon read access on or off.

    Raises:
        DatabaseError: the statements failed (for example, not the tables' owner).
    """
    try:
        with db.engine.begin() as conn:
            for statement in policy_statements(anon_read=anon_read):
                conn.exec_driver_sql(statement)
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
    """Lines and warnings about row-level security, for ``auth check`` and ``db check``.

    Warnings: a sentinel-db table without RLS (Supabase's Data API would expose it), or
    Supabase roles present without the policies they need.
    """
    state = security_state(db)
    lines = [_describe(table) for table in state.tables]
    present = ", ".join(r for r in SUPABASE_ROLES if r in state.roles)
    lines.append(
        f"roles:     Supabase roles present: {present}"
        if present
        else "roles:     no Supabase roles (plain PostgreSQL): no policies needed"
    )
    warnings = [
        f"row-level security is off on {t.schema}.{t.name}: anyone with the API key can read and "
        "write it on Supabase; run `sentinel-db auth policies` (or `sentinel-db migrate`)"
        for t in state.tables
        if not t.rls_enabled
    ]
    missing = state.missing_policies()
    if missing:
        warnings.append(
            "Supabase roles exist but these policies are missing: "
            + ", ".join(missing)
            + "; run `sentinel-db auth policies` to create them"
        )
    for table in state.tables:
        if table.name not in REFERENCE_TABLES:
            exposed = [p.name for p in table.policies if set(p.roles) & {"anon", "authenticated"}]
            if exposed:
                warnings.append(
                    f"{table.name} should not be readable through the API, but policies "
                    f"{', '.join(exposed)} grant anon/authenticated access"
                )
    return {"lines": lines, "warnings": warnings}
