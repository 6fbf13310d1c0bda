"""`import` and `import-data` commands (thin wrappers over sentinel_db.importers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sentinel_db.cli.args import PlainCommand
from sentinel_db.cli.context import CliState, get_state
from sentinel_db.cli.render import OutputFormat, ReportFormat, err, print_json, render, say

if TYPE_CHECKING:
    from sentinel_db.importers import (
        FileReport,
        ImportOptions,
        ImportReport,
        ProgressCallback,
    )

app = typer.Typer(help="Validate and bulk-import CSV files.", no_args_is_help=True)

DEFAULT_SOURCE = Path("shared_data/outputs")
FIRST_ERRORS = 10

BatchSize = Annotated[
    int | None,
    typer.Option("--batch-size", min=1, help="Rows per COPY batch (default DB_BATCH_SIZE)."),
]
Validate = Annotated[
    bool, typer.Option("--validate/--no-validate", help="Check every row against its model.")
]
ShowProgress = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress bar on a terminal.")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")]
Strict = Annotated[
    bool, typer.Option("--strict", help="Unknown controls/rules in mappings are errors.")
]
AllOrNothing = Annotated[
    bool, typer.Option("--all-or-nothing", help="Any rejected row aborts that file.")
]
RejectFile = Annotated[
    Path | None,
    typer.Option("--reject-file", help="Write rejected rows here (default: beside each file)."),
]
Force = Annotated[bool, typer.Option("--force", help="Import files even when unchanged.")]
Encoding = Annotated[
    str | None, typer.Option("--encoding", help="File encoding (default UTF-8, BOM or not).")
]
Format = Annotated[ReportFormat, typer.Option("--format", help="text or json.")]


@contextmanager
def _progress(state: CliState, enabled: bool, fmt: ReportFormat) -> Iterator[ProgressCallback]:
    """A callback drawing a bar per file on a terminal, or plain lines otherwise."""
    from sentinel_db.cli.progress import import_progress

    if state.quiet or fmt is ReportFormat.json:
        yield lambda event: None
        return
    with import_progress(err, bar=enabled) as callback:
        yield callback


def _file_line(report: FileReport) -> str:
    counts = (
        f"read {report.rows_read:,}, inserted {report.inserted:,}, updated {report.updated:,},"
        f" unchanged {report.unchanged:,}, rejected {report.rejected:,},"
        f" warnings {report.warnings:,}"
    )
    timing = f"{report.seconds:.2f} s, {report.rows_per_second:,.0f} rows/s"
    return f"{report.path} -> {report.table}: {report.status}; {counts} ({timing})"


def _print_file(report: FileReport, state: CliState) -> None:
    """One file's part of the report (on stdout: it is the result)."""
    problem = report.status == "failed" or report.rejected > 0
    if not state.quiet or problem or report.warnings:
        say(_file_line(report))
    if report.status == "skipped" and report.error and not state.quiet:
        say(f"  {report.error}")
    shown = report.errors[:FIRST_ERRORS]
    for problem_item in shown:
        say(str(problem_item), style="red")
    hidden = report.rejected + (1 if report.status == "failed" else 0) - len(shown)
    if hidden > 0:
        say(f"... and {hidden:,} more")
    limit = None if state.verbose else 5
    for warning in report.warning_list[:limit]:
        say(f"warning: {warning}", style="yellow")
    if limit is not None and report.warnings > limit:
        say(f"warning: ... and {report.warnings - limit:,} more (--verbose shows them)")
    for line in report.reject_notes:
        say(line)


def _print_report(report: ImportReport, state: CliState, fmt: ReportFormat) -> None:
    if fmt is ReportFormat.json:
        print_json(report.to_dict())
    else:
        for path, reason in report.skipped:
            if state.verbose or not state.quiet:
                say(f"skipped {path}: {reason}")
        for file_report in report.files:
            _print_file(file_report, state)
        names = ("rows_read", "inserted", "updated", "unchanged", "rejected", "warnings")
        totals = ", ".join(f"{n.replace('_', ' ')} {report.total(n):,}" for n in names)
        prefix = "dry run, nothing written: " if report.dry_run else ""
        if not state.quiet:
            say(f"total: {prefix}{totals} in {report.seconds:.2f} s")
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _bulk(
    ctx: typer.Context, source: Path, options: ImportOptions, progress: bool, fmt: ReportFormat
) -> None:
    from sentinel_db.importers import import_directory

    state = get_state(ctx)
    db = state.database()
    with _progress(state, progress, fmt) as callback:
        report = import_directory(db, source, options=options, progress=callback)
    _print_report(report, state, fmt)


def import_everyday(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(help="Folder (searched recursively) or CSV file.", metavar="SOURCE")
    ] = DEFAULT_SOURCE,
    batch_size: BatchSize = None,
    validate: Validate = True,
    progress: ShowProgress = True,
    dry_run: DryRun = False,
    strict: Strict = False,
    all_or_nothing: AllOrNothing = False,
    reject_file: RejectFile = None,
    force: Force = False,
    encoding: Encoding = None,
    fmt: Format = ReportFormat.text,
    embed: Annotated[
        bool, typer.Option("--embed", help="Then embed the rows the import added or changed.")
    ] = False,
) -> None:
    """Import every recognised CSV under SOURCE (default shared_data/outputs)."""
    from sentinel_db.importers import ImportOptions

    options = ImportOptions(
        batch_size=batch_size,
        validate=validate,
        dry_run=dry_run,
        strict=strict,
        all_or_nothing=all_or_nothing,
        reject_file=reject_file,
        force=force,
        encoding=encoding,
    )
    _bulk(ctx, source, options, progress, fmt)
    if embed and not dry_run:
        from sentinel_db.cli.vectors_cmd import render_embed_reports, run_embed

        reports = run_embed(get_state(ctx), [], model=None, everything=False, dry_run=False)
        render_embed_reports(reports, OutputFormat.table)


@app.command("bulk", cls=PlainCommand)
def bulk(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Option("--source", help="Folder (searched recursively) or CSV file.")
    ] = DEFAULT_SOURCE,
    batch_size: BatchSize = None,
    validate: Validate = True,
    progress: ShowProgress = True,
    dry_run: DryRun = False,
    strict: Strict = False,
    all_or_nothing: AllOrNothing = False,
    reject_file: RejectFile = None,
    force: Force = False,
    encoding: Encoding = None,
    fmt: Format = ReportFormat.text,
) -> None:
    """Import every recognised CSV under --source (controls and rules before mappings)."""
    import_everyday(
        ctx,
        source,
        batch_size=batch_size,
        validate=validate,
        progress=progress,
        dry_run=dry_run,
        strict=strict,
        all_or_nothing=all_or_nothing,
        reject_file=reject_file,
        force=force,
        encoding=encoding,
        fmt=fmt,
    )


@app.command("csv", cls=PlainCommand)
def csv_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The CSV file.", metavar="FILE")],
    table: Annotated[str, typer.Argument(help="Target table.", metavar="TABLE")],
    batch_size: BatchSize = None,
    validate: Validate = True,
    progress: ShowProgress = True,
    dry_run: DryRun = False,
    strict: Strict = False,
    all_or_nothing: AllOrNothing = False,
    reject_file: RejectFile = None,
    force: Force = False,
    encoding: Encoding = None,
    fmt: Format = ReportFormat.text,
) -> None:
    """Import one CSV FILE into TABLE."""
    from sentinel_db.importers import ImportOptions, ImportReport, import_file, table_spec

    table = table_spec(table).name
    state = get_state(ctx)
    options = ImportOptions(
        batch_size=batch_size,
        validate=validate,
        dry_run=dry_run,
        strict=strict,
        all_or_nothing=all_or_nothing,
        reject_file=reject_file,
        force=force,
        encoding=encoding,
    )
    db = state.database()
    with _progress(state, progress, fmt) as callback:
        file_report = import_file(db, file, table, options=options, progress=callback)
    report = ImportReport(
        source=str(file),
        run_id="",
        files=[file_report],
        dry_run=dry_run,
        seconds=file_report.seconds,
    )
    _print_report(report, state, fmt)


@app.command("info", cls=PlainCommand)
def info_cmd(
    source: Annotated[
        Path, typer.Argument(help="Folder or CSV file to describe.", metavar="SOURCE")
    ] = DEFAULT_SOURCE,
    fmt: Format = ReportFormat.text,
) -> None:
    """Recognised file names, their columns and checks, and what SOURCE holds."""
    from sentinel_db.importers import describe_source

    description = describe_source(source)
    if fmt is ReportFormat.json:
        print_json(description.to_dict())
        return
    write = sys.stdout.write
    write("recognised files:\n")
    for item in description.formats():
        write(f"  {item['file']} -> {item['table']}\n")
        write(
            f"    columns: {','.join(item['columns'])} (required: {', '.join(item['required'])})\n"
        )
        write(f"    checks: {item['checks']}\n")
    if not description.exists:
        write(f"{source}: does not exist\n")
        return
    write(f"{source}:\n")
    for entry in description.files:
        write(
            f"  {entry.path} -> {entry.table} ({entry.size:,} bytes, ~{entry.estimated_rows:,} rows)\n"
        )
    for path, reason in description.skipped:
        write(f"  {path}: skipped ({reason})\n")
    if not description.files:
        write("  no recognised file\n")


@app.command("history")
def history_cmd(
    ctx: typer.Context,
    table: Annotated[
        str | None,
        typer.Option("--table", help="Only this table (full name, or controls, rules, mappings)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="table, json or csv.")
    ] = OutputFormat.table,
) -> None:
    """Past import runs, newest first."""
    from sentinel_db.importers import list_runs, table_spec

    if table is not None:
        table = table_spec(table).name
    runs = list_runs(get_state(ctx).database(), table=table, limit=limit)
    rows = [run.to_dict() for run in runs]
    if fmt is OutputFormat.table:
        # People get the gist on one line; JSON and CSV carry every field.
        rows = [
            {
                "started": row["started_at"],
                "table": row["table_name"],
                "status": row["status"],
                "read": row["rows_read"],
                "ins": row["inserted"],
                "upd": row["updated"],
                "same": row["unchanged"],
                "rej": row["rejected"],
                "file": Path(str(row["source_path"])).name,
            }
            for row in rows
        ]
    render(rows, fmt)
