"""Who may do what on sentinel-db's tables: row-level security, read policies and privileges.

The one place that says how a table is protected, so that every table gets the same treatment.
Revisions call these functions with a table name; ``sentinel-db auth policies`` reapplies them.

Two kinds of table:

- **API-readable** (the reference tables, and any table meant to be read the same way):
  RLS on; a ``SELECT`` policy for ``authenticated``, and for ``anon`` only when anon read is
  wanted; privileges cut down to ``SELECT`` for those roles and ``service_role``, whatever the
  database's default privileges granted (Supabase grants ALL on every new table in ``public``).
  ``TRUNCATE``, ``REFERENCES``, ``TRIGGER`` and every write are revoked: RLS governs none of
  ``TRUNCATE``, ``REFERENCES`` and ``TRIGGER``, and writes go through the owner.
- **Private** (bookkeeping, in the ``sentinel_db`` schema): RLS on, no policy, no privilege at
  all for any API role, and no ``USAGE`` on the schema.

Roles that do not exist (plain PostgreSQL) are skipped, so the same SQL runs everywhere. Every
name formatted into SQL here is a constant or a table name from the revisions and models, never
user input. No statement contains a colon: Alembic's ``op.execute`` would read it as a bind.
"""

from __future__ import annotations

from typing import Any

AUTHENTICATED_POLICY = "sentinel_db_authenticated_read"
ANON_POLICY = "sentinel_db_anon_read"
API_ROLES = ("anon", "authenticated", "service_role")
# Privileges no API role may hold on any sentinel-db table (SELECT is judged separately).
FORBIDDEN_PRIVILEGES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _if_role(role: str, body: list[str]) -> str:
    lines = "\n".join(f"    {statement};" for statement in body)
    return f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN\n{lines}\n  END IF;"


def _do(blocks: list[str], *, declare: str = "") -> str:
    return f"DO $$\n{declare}BEGIN\n" + "\n".join(blocks) + "\nEND $$"


def api_table_sql(table: str, *, anon_read: bool | None) -> list[str]:
    """SQL giving ``table`` the reference tables' RLS, policies and privileges (idempotent).

    ``anon_read=None`` keeps ``anon``'s read access as it is (on if its policy exists).
    """
    policy = "CREATE POLICY {name} ON {table} AS PERMISSIVE FOR SELECT TO {role} USING (true)"
    keep_anon = (
        f"EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass('{table}')"
        f" AND polname = '{ANON_POLICY}')"
        if anon_read is None
        else str(anon_read).lower()
    )
    blocks = [
        f"  DROP POLICY IF EXISTS {AUTHENTICATED_POLICY} ON {table};",
        f"  DROP POLICY IF EXISTS {ANON_POLICY} ON {table};",
    ]
    for role, name in (
        ("anon", ANON_POLICY),
        ("authenticated", AUTHENTICATED_POLICY),
        ("service_role", None),
    ):
        body = [f"REVOKE ALL ON TABLE {table} FROM {role}"]
        if name is not None:
            body.append(policy.format(name=name, table=table, role=role))
        body.append(f"GRANT SELECT ON TABLE {table} TO {role}")
        if role == "anon":
            # Only when wanted: the statements run under one more IF.
            body = [body[0], "IF anon_read THEN " + "; ".join(body[1:]) + "; END IF"]
        blocks.append(_if_role(role, body))
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"REVOKE ALL ON TABLE {table} FROM PUBLIC",
        _do(blocks, declare=f"DECLARE\n  anon_read boolean := {keep_anon};\n"),
    ]


def private_table_sql(table: str) -> list[str]:
    """SQL that hides ``table`` (schema-qualified) from every API role: RLS on, nothing granted."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"REVOKE ALL ON TABLE {table} FROM PUBLIC",
        _do([_if_role(role, [f"REVOKE ALL ON TABLE {table} FROM {role}"]) for role in API_ROLES]),
    ]


def private_schema_sql(schema: str) -> list[str]:
    """SQL creating ``schema`` (if missing) with no privilege for PUBLIC or any API role."""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        _do([_if_role(role, [f"REVOKE ALL ON SCHEMA {schema} FROM {role}"]) for role in API_ROLES]),
    ]


def anon_read_at_migrate_time() -> bool:
    """``RLS_ANON_READ`` for a running revision: the Alembic attribute, else the settings."""
    from alembic import op

    config = op.get_context().config
    if config is not None and "rls_anon_read" in config.attributes:
        return bool(config.attributes["rls_anon_read"])
    from sentinel_db.config import get_settings
    from sentinel_db.errors import SentinelDBError

    try:
        return get_settings().rls_anon_read
    except SentinelDBError:
        return False  # unreadable settings: keep the safe default, no anon access


def _execute(statements: list[str]) -> None:
    from alembic import op

    for statement in statements:
        op.execute(statement)


def protect_api_table(table: str, *, anon_read: bool | None = None) -> None:
    """In a revision: give ``table`` the reference tables' RLS, policies and privileges.

    ``anon_read`` defaults to on when ``RLS_ANON_READ`` is true at migrate time, else to what the
    table already has: upgrading never takes away read access someone turned on before.
    """
    if anon_read is None and anon_read_at_migrate_time():
        anon_read = True
    _execute(api_table_sql(table, anon_read=anon_read))


def protect_private_table(table: str) -> None:
    """In a revision: hide ``table`` (schema-qualified) from every API role."""
    _execute(private_table_sql(table))


def protect_private_schema(schema: str) -> None:
    """In a revision: create ``schema`` if needed, closed to PUBLIC and every API role."""
    _execute(private_schema_sql(schema))


def run_statements(conn: Any, statements: list[str]) -> None:
    """Run ``statements`` over a SQLAlchemy connection (outside Alembic)."""
    for statement in statements:
        conn.exec_driver_sql(statement)
