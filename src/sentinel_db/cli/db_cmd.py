"""`auth` and `db` commands: connection set-up and the schema's life cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentinel_db.cli.args import PlainCommand
from sentinel_db.cli.context import get_state
from sentinel_db.cli.render import ReportFormat, confirm, info, out, print_json, warn

# The library is imported inside each command (see cli/__init__.py): `--help` stays quick.
_FAILED = 1  # ExitCode.FAILED, without importing sentinel_db.errors up front

auth_app = typer.Typer(
    help="Connection set-up: write a .env template, check the connection, apply RLS policies.",
    no_args_is_help=True,
)
db_app = typer.Typer(
    help="Schema life cycle: migrate, roll back, status, drift, SQL.", no_args_is_help=True
)

FormatOption = Annotated[ReportFormat, typer.Option("--format", help="text or json.")]


@auth_app.command("init")
def auth_init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Option("--path", help="Where to write the template.")] = Path(
        ".env"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented .env template (mode 0600) with every setting."""
    from sentinel_db.runtime import setup

    written = setup.write_env_template(path, force=force)
    info(f"wrote {written} (mode 600); fill in DATABASE_URL", quiet=get_state(ctx).quiet)


@auth_app.command("check")
def auth_check(ctx: typer.Context, fmt: FormatOption = ReportFormat.text) -> None:
    """Connect and report: server, user, SSL, pooler mode, schema revision, tables."""
    from sentinel_db.cli.vectors_cmd import provider_section
    from sentinel_db.runtime import setup

    state = get_state(ctx)
    db = state.database()
    report = setup.check_connection(db)
    warnings = report.warnings + setup.env_file_warnings(state.env_file)
    extra = _security_section(db)
    embedding = provider_section(state, db)
    warnings += extra.get("warnings", []) + embedding.get("warnings", [])
    if fmt is ReportFormat.json:
        print_json(
            {
                "url": report.health.masked_url,
                "server_version": report.health.server_version,
                "user": report.health.user,
                "database": report.health.database,
                "ssl": report.health.ssl,
                "pooler": report.health.pooler,
                "current_revision": report.current_revision,
                "head_revision": report.head_revision,
                "tables": report.tables,
                "latency_ms": round(report.health.latency_ms, 3),
                "metrics": db.metrics().summary(),
                **{k: v for k, v in extra.items() if k not in ("warnings", "schema_warnings")},
                "embedding": embedding["embedding"],
                "warnings": warnings,
                "healthy": report.healthy and not warnings,
            }
        )
    else:
        h = report.health
        out.print(f"url:       {h.masked_url}", markup=False, highlight=False)
        out.print(f"server:    PostgreSQL {h.server_version}", markup=False, highlight=False)
        out.print(f"user:      {h.user} (database {h.database})", markup=False, highlight=False)
        out.print(f"ssl:       {'on' if h.ssl else 'off'}", markup=False, highlight=False)
        out.print(
            f"pooler:    {'transaction pooler (prepared statements off)' if h.pooler else 'direct/session'}",
            markup=False,
            highlight=False,
        )
        out.print(
            f"schema:    {report.current_revision or 'not migrated'} (head {report.head_revision})",
            markup=False,
            highlight=False,
        )
        for name, present in report.tables.items():
            out.print(
                f"table:     {name}: {'present' if present else 'MISSING'}",
                markup=False,
                highlight=False,
            )
        for line in [*extra.get("lines", []), *embedding["lines"]]:
            out.print(line, markup=False, highlight=False)
        for message in warnings:
            warn(message)
    if not report.healthy or warnings:
        raise typer.Exit(_FAILED)


@auth_app.command("policies")
def auth_policies(
    ctx: typer.Context,
    anon_read: Annotated[
        bool | None,
        typer.Option(
            "--anon-read/--no-anon-read",
            help="Let anon read the reference tables (default: the RLS_ANON_READ setting).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Switch row-level security on and (re)create the policies for Supabase's roles."""
    from sentinel_db.schema import security

    state = get_state(ctx)
    wanted = state.settings().rls_anon_read if anon_read is None else anon_read
    result = security.apply_policies(state.database(), anon_read=wanted)
    roles = ", ".join(sorted(result.roles)) or "none (plain PostgreSQL: RLS on, no policies)"
    info(f"row-level security on; Supabase roles: {roles}", quiet=state.quiet)
    for table in result.tables:
        names = ", ".join(p.name for p in table.policies) or "none"
        info(f"  {table.name}: policies {names}", quiet=state.quiet)


def _security_section(db: object) -> dict[str, list[str]]:
    """Row-level-security lines for `auth check`, when the security module is present."""
    import importlib

    try:
        security = importlib.import_module("sentinel_db.schema.security")
    except ImportError:
        return {}
    report: dict[str, list[str]] = security.check_report(db)
    return report


def migrate(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="Target revision.")] = "head",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the SQL; change nothing.")
    ] = False,
    validate: Annotated[
        bool,
        typer.Option("--validate", help="Afterwards, compare the live schema with the models."),
    ] = False,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Also apply an optional part of the schema: vectors (needs pgvector).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Upgrade the schema to head (or --to REV); --with vectors adds the pgvector tables."""
    from sentinel_db.errors import UsageError
    from sentinel_db.records.embeddings import VECTORS_BRANCH
    from sentinel_db.schema import migrations

    state = get_state(ctx)
    optional = {name.strip().lower() for name in with_ or ()}
    if optional - {VECTORS_BRANCH}:
        raise UsageError(
            f"unknown --with {', '.join(sorted(optional - {VECTORS_BRANCH}))}; "
            f"optional parts: {VECTORS_BRANCH}"
        )
    db = state.database()
    if db.is_pooler:
        warn(
            "migrating through a transaction pooler: DDL and the migration lock need one session; "
            "use the direct connection or the session pooler (port 5432) for migrations"
        )
    if dry_run:
        sql = migrations.pending_sql(db.engine, to)
        if VECTORS_BRANCH in optional and migrations.status(db.engine).vectors is None:
            from sentinel_db.schema.vector_indexes import require_vector_extension

            require_vector_extension(db.engine)
            sql += migrations.upgrade_sql("head", "vectors")
        typer.echo(
            sql if sql.strip() else "-- nothing to do: the database is at the target revision"
        )
        return
    before = migrations.status(db.engine)
    after = migrations.upgrade(
        db.engine,
        to,
        rls_anon_read=state.settings().rls_anon_read,
        with_vectors=VECTORS_BRANCH in optional,
    )
    if before.current == after.current:
        info(f"already at {after.current or 'base'}; nothing to do", quiet=state.quiet)
    else:
        info(f"migrated {before.current or 'base'} -> {after.current}", quiet=state.quiet)
    if VECTORS_BRANCH in optional and before.vectors != after.vectors:
        info(f"vectors: {before.vectors or 'none'} -> {after.vectors}", quiet=state.quiet)
    if validate:
        _validate(db, state.quiet)


def _validate(db: object, quiet: bool) -> None:
    from sentinel_db.errors import SchemaDriftError
    from sentinel_db.runtime.db import Database
    from sentinel_db.schema import migrations

    assert isinstance(db, Database)
    diffs = migrations.drift(db.engine)
    if diffs:
        raise SchemaDriftError(
            "the live schema differs from the models: " + "; ".join(str(d) for d in diffs[:10]),
            hint="run `sentinel-db db check` for the full list",
        )
    extra = _security_section(db)
    if extra.get("schema_warnings"):
        raise SchemaDriftError("; ".join(extra["schema_warnings"]))
    info("schema matches the models", quiet=quiet)


db_app.command("migrate")(migrate)


@db_app.command("rollback", cls=PlainCommand)
def rollback(
    ctx: typer.Context,
    tables: Annotated[
        list[str] | None,
        typer.Argument(
            help="Remove just this table; the others stay as they are.",
            metavar="TABLE",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="Downgrade to this revision (base = all; vectors@base = the vectors only)."
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove one table (its branch only, others untouched), or downgrade everything to --to REV."""
    from sentinel_db.schema import rollback as rollback_plan

    state = get_state(ctx)
    db = state.database()
    plan = rollback_plan.plan_rollback(db.engine, tables=tables or (), to=to)
    if not plan.revisions:
        info("nothing to roll back", quiet=state.quiet)
        return
    info(f"rolling back to {plan.target}; these revisions will be undone:", quiet=False)
    for rev in plan.revisions:
        lost = ", ".join(f"{t}: {plan.rows_lost.get(t, 0)} rows lost" for t in rev.creates_tables)
        info(f"  {rev.revision}  {rev.message}" + (f"  ({lost})" if lost else ""), quiet=False)
    if not yes and not confirm("Proceed?"):
        info("declined: nothing changed")
        raise typer.Exit(_FAILED)
    after = rollback_plan.run_rollback(db.engine, plan)
    info(
        f"now at {after.current or 'base'}"
        + (f"; vectors at {after.vectors}" if after.vectors else ""),
        quiet=state.quiet,
    )
    if plan.by_table:
        info(
            "other tables are unchanged; `sentinel-db migrate` restores what was removed",
            quiet=state.quiet,
        )


@db_app.command("status")
def db_status(ctx: typer.Context, fmt: FormatOption = ReportFormat.text) -> None:
    """Current revision, head, and pending revisions."""
    from sentinel_db.schema import migrations

    state = migrations.status(get_state(ctx).database().engine)
    if fmt is ReportFormat.json:
        print_json(
            {
                "current": state.current,
                "head": state.head,
                "pending": [{"revision": r.revision, "message": r.message} for r in state.pending],
                "vectors": state.vectors,
            }
        )
        return
    out.print(f"current: {state.current or 'base (not migrated)'}", markup=False, highlight=False)
    out.print(f"head:    {state.head}", markup=False, highlight=False)
    out.print(f"vectors: {state.vectors or 'not installed'}", markup=False, highlight=False)
    if state.pending:
        out.print("pending:", markup=False)
        for rev in state.pending:
            out.print(f"  {rev.revision}  {rev.message}", markup=False, highlight=False)
    else:
        out.print("pending: none", markup=False)


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Compare the live schema with the models; non-zero exit on drift."""
    state = get_state(ctx)
    _validate(state.database(), state.quiet)


@db_app.command("sql")
def db_sql(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """The whole schema as SQL, for pasting into the Supabase SQL editor."""
    from sentinel_db.schema import migrations

    sql = migrations.upgrade_sql("head")
    if output is None:
        typer.echo(sql, nl=False)
    else:
        output.write_text(sql, encoding="utf-8")
