"""Database lints for sentinel-db's objects, modelled on Supabase's database advisor ("splinter").

Each check reads the catalog only and reports a :class:`Finding` at the advisor's level (ERROR or
WARN). Only sentinel-db's objects are judged: its tables (reference tables, and the optional
embeddings tables when they exist, in the current schema; bookkeeping in ``sentinel_db``), views over them, functions in the ``sentinel_db`` schema or
behind triggers on its tables, and extensions installed in ``public``. The schemas the Data API
serves are PostgREST's ``pgrst.db_schemas`` when set, else ``public``.

Besides the advisor's own lints there is ``api_role_privileges``: an API role holding more than
the access model in :mod:`sentinel_db.schema.access` allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from sentinel_db.records.embeddings import EMBEDDING_TABLES
from sentinel_db.records.models import REFERENCE_TABLES, SCHEMA_BY_TABLE
from sentinel_db.records.tables import BOOKKEEPING_SCHEMA
from sentinel_db.schema.access import ANON_POLICY, API_ROLES, FORBIDDEN_PRIVILEGES

# Tables the Data API may read: the reference tables and the optional embeddings tables.
API_TABLES: tuple[str, ...] = (*REFERENCE_TABLES, *EMBEDDING_TABLES)


@dataclass(frozen=True)
class Finding:
    """One problem: the advisor's level and lint name, and what is wrong where."""

    level: str
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.level} {self.name}: {self.detail}"


# Bookkeeping: the tables outside the current schema, and the schema version table.
_BOOKKEEPING = (
    *(name for name, schema in SCHEMA_BY_TABLE.items() if schema),
    "sentinel_db_alembic_version",
)

# Our tables: reference tables in the current schema, bookkeeping in its schema (or, before the
# revision that moved it, in the current schema).
_OURS = """
    WITH ours AS (
      SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relrowsecurity AS rls,
             c.relname = ANY(CAST(:bookkeeping AS text[])) AS private
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')
        AND ((n.nspname = current_schema() AND c.relname = ANY(CAST(:reference AS text[])))
          OR (n.nspname IN (current_schema(), :schema)
              AND c.relname = ANY(CAST(:bookkeeping AS text[]))))
    ), exposed AS (
      SELECT trim(s) AS nspname FROM unnest(string_to_array(
        coalesce(nullif(current_setting('pgrst.db_schemas', true), ''), 'public'), ',')) s
    )
"""


def _params() -> dict[str, Any]:
    return {
        "reference": list(API_TABLES),
        "bookkeeping": list(_BOOKKEEPING),
        "schema": BOOKKEEPING_SCHEMA,
    }


def _rows(conn: Connection, query: str, **extra: Any) -> list[Any]:
    return list(conn.execute(text(_OURS + query), {**_params(), **extra}))


def _rls(conn: Connection) -> list[Finding]:
    found = []
    for schema, name, exposed, policies in _rows(
        conn,
        "SELECT o.schema, o.name, o.schema IN (SELECT nspname FROM exposed),"
        " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = o.oid)"
        " FROM ours o WHERE NOT o.rls ORDER BY 1, 2",
    ):
        if policies:
            found.append(
                Finding(
                    "ERROR",
                    "policy_exists_rls_disabled",
                    f"{schema}.{name} has policies but row-level security is off",
                )
            )
        found.append(
            Finding(
                "ERROR" if exposed else "WARN",
                "rls_disabled_in_public" if exposed else "rls_disabled",
                f"row-level security is off on {schema}.{name}"
                + (": anyone with the API key can read and write it" if exposed else ""),
            )
        )
    return found


def _bookkeeping_exposed(conn: Connection) -> list[Finding]:
    return [
        Finding(
            "WARN",
            "bookkeeping_in_api_schema",
            f"{schema}.{name} is in a schema the Data API serves; "
            "`sentinel-db migrate` moves it to the sentinel_db schema",
        )
        for schema, name in _rows(
            conn,
            "SELECT schema, name FROM ours WHERE private"
            " AND schema IN (SELECT nspname FROM exposed) ORDER BY 2",
        )
    ]


def _privileges(conn: Connection) -> list[Finding]:
    roles = [r for (r,) in conn.execute(text("SELECT rolname FROM pg_roles")) if r in API_ROLES]
    found = []
    for role in roles:
        for schema, name, private, held, selects, anon_policy in _rows(
            conn,
            "SELECT o.schema, o.name, o.private,"
            " array(SELECT p FROM unnest(CAST(:privileges AS text[])) p"
            "       WHERE has_table_privilege(:role, o.oid, p)"
            "          OR CASE WHEN p IN ('INSERT', 'UPDATE', 'REFERENCES')"
            "             THEN has_any_column_privilege(:role, o.oid, p) ELSE false END),"
            " has_table_privilege(:role, o.oid, 'SELECT')"
            "   OR has_any_column_privilege(:role, o.oid, 'SELECT'),"
            " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = o.oid AND p.polname = :anon)"
            " FROM ours o ORDER BY 1, 2",
            role=role,
            privileges=list(FORBIDDEN_PRIVILEGES),
            anon=ANON_POLICY,
        ):
            extra = list(held)
            if selects and (private or (role == "anon" and not anon_policy)):
                extra.insert(0, "SELECT")
            if extra:
                found.append(
                    Finding(
                        "WARN",
                        "api_role_privileges",
                        f"{role} holds {', '.join(extra)} on {schema}.{name}; "
                        "run `sentinel-db auth policies` to revoke it",
                    )
                )
        usage = conn.execute(
            text(
                "SELECT has_schema_privilege(:role, n.oid, 'USAGE')"
                " OR has_schema_privilege(:role, n.oid, 'CREATE')"
                " FROM pg_namespace n WHERE n.nspname = :schema"
            ),
            {"role": role, "schema": BOOKKEEPING_SCHEMA},
        ).scalar()
        if usage:
            found.append(
                Finding(
                    "WARN",
                    "api_role_privileges",
                    f"{role} may use the {BOOKKEEPING_SCHEMA} schema, which holds bookkeeping",
                )
            )
    return found


def _policies(conn: Connection) -> list[Finding]:
    found = [
        Finding(
            "WARN",
            "multiple_permissive_policies",
            f"{schema}.{name} has several permissive {cmd} policies for {role}: {names}",
        )
        for schema, name, role, cmd, names in _rows(
            conn,
            "SELECT o.schema, o.name, r.rolname, p.polcmd::text, string_agg(p.polname, ', ')"
            " FROM ours o JOIN pg_policy p ON p.polrelid = o.oid"
            " JOIN pg_roles r ON r.oid = ANY(p.polroles)"
            " WHERE p.polpermissive GROUP BY 1, 2, 3, 4 HAVING count(*) > 1 ORDER BY 1, 2, 3",
        )
    ]
    # auth_rls_initplan: a per-row call to auth.* or current_setting() that could run once.
    found += [
        Finding(
            "WARN",
            "auth_rls_initplan",
            f"policy {policy} on {schema}.{name} calls auth functions or current_setting() "
            "per row; wrap them in (select ...)",
        )
        for schema, name, policy in _rows(
            conn,
            "SELECT o.schema, o.name, p.polname FROM ours o"
            " JOIN pg_policy p ON p.polrelid = o.oid,"
            " LATERAL (SELECT coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' '"
            "   || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') AS expr) e"
            " WHERE e.expr ~* '(auth\\.(uid|jwt|role|email)|current_setting)\\s*\\('"
            "   AND e.expr !~* 'select\\s+(auth\\.|current_setting)' ORDER BY 1, 2, 3",
        )
    ]
    return found


def _views(conn: Connection) -> list[Finding]:
    found = []
    for schema, name, kind, exposed in _rows(
        conn,
        "SELECT DISTINCT vn.nspname, v.relname, v.relkind::text,"
        " vn.nspname IN (SELECT nspname FROM exposed) FROM ours o"
        " JOIN pg_depend d ON d.refobjid = o.oid AND d.classid = 'pg_rewrite'::regclass"
        " JOIN pg_rewrite rw ON rw.oid = d.objid"
        " JOIN pg_class v ON v.oid = rw.ev_class AND v.relkind IN ('v', 'm')"
        " JOIN pg_namespace vn ON vn.oid = v.relnamespace"
        " WHERE v.oid <> o.oid AND NOT coalesce(v.reloptions::text[] && ARRAY["
        "   'security_invoker=on', 'security_invoker=true', 'security_invoker=1'], false)"
        " ORDER BY 1, 2",
    ):
        if kind == "v":
            found.append(
                Finding(
                    "ERROR",
                    "security_definer_view",
                    f"view {schema}.{name} reads sentinel-db tables with its owner's rights "
                    "(set security_invoker = on)",
                )
            )
        elif exposed:
            # A materialized view has no RLS at all: the API serves whatever it holds.
            found.append(
                Finding(
                    "WARN",
                    "materialized_view_in_api",
                    f"materialized view {schema}.{name} over sentinel-db tables is served by the "
                    "Data API without row-level security",
                )
            )
    return found


_OUR_FUNCTIONS = """
    , funcs AS (
      SELECT p.oid, n.nspname AS schema, p.proname AS name, p.proconfig, p.prosecdef
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = :schema
         OR p.oid IN (SELECT t.tgfoid FROM pg_trigger t JOIN ours o ON o.oid = t.tgrelid)
    )
"""


def _functions(conn: Connection) -> list[Finding]:
    found = [
        Finding(
            "WARN",
            "function_search_path_mutable",
            f"function {schema}.{name} has no fixed search_path (SET search_path = '')",
        )
        for schema, name in _rows(
            conn,
            _OUR_FUNCTIONS + "SELECT schema, name FROM funcs WHERE NOT coalesce("
            "EXISTS (SELECT 1 FROM unnest(proconfig) c WHERE c LIKE 'search_path=%'), false)"
            " ORDER BY 1, 2",
        )
    ]
    for role in ("anon", "authenticated"):
        found += [
            Finding(
                "WARN",
                f"{role}_security_definer_function_executable",
                f"{role} may execute SECURITY DEFINER function {schema}.{name}",
            )
            for schema, name in _rows(
                conn,
                _OUR_FUNCTIONS + "SELECT schema, name FROM funcs WHERE prosecdef"
                " AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :role)"
                " AND has_function_privilege(:role, oid, 'EXECUTE') ORDER BY 1, 2",
                role=role,
            )
        ]
    return found


def _extensions(conn: Connection) -> list[Finding]:
    return [
        Finding("WARN", "extension_in_public", f"extension {name} is installed in public")
        for (name,) in conn.execute(
            text(
                "SELECT e.extname FROM pg_extension e JOIN pg_namespace n"
                " ON n.oid = e.extnamespace WHERE n.nspname = 'public' ORDER BY 1"
            )
        )
    ]


def _duplicate_indexes(conn: Connection) -> list[Finding]:
    return [
        Finding(
            "WARN",
            "duplicate_index",
            f"{schema}.{name} has identical indexes {names}; drop all but one",
        )
        for schema, name, names in _rows(
            conn,
            "SELECT o.schema, o.name, string_agg(i.indexrelid::regclass::text, ', ' ORDER BY 1)"
            " FROM ours o JOIN pg_index i ON i.indrelid = o.oid"
            " GROUP BY o.schema, o.name, i.indkey::text, i.indclass::text,"
            " coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),"
            " coalesce(pg_get_expr(i.indpred, i.indrelid), ''), i.indisunique"
            " HAVING count(*) > 1 ORDER BY 1, 2",
        )
    ]


CHECKS: tuple[Callable[[Connection], list[Finding]], ...] = (
    _rls,
    _bookkeeping_exposed,
    _privileges,
    _policies,
    _views,
    _functions,
    _extensions,
    _duplicate_indexes,
)


def lint(conn: Connection) -> list[Finding]:
    """Every ERROR and WARN finding on sentinel-db's objects (empty when all is well)."""
    return [finding for check in CHECKS for finding in check(conn)]
