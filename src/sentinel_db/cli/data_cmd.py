"""`data` commands: list, show, search, similar, clear, seed, stats, export."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sentinel_db.cli.args import PlainCommand, QuestionCommand
from sentinel_db.cli.context import get_state
from sentinel_db.cli.keys import hinting_keys
from sentinel_db.cli.layout import block_lines
from sentinel_db.cli.render import (
    FileFormat,
    OutputFormat,
    ReportFormat,
    info,
    out,
    print_json,
    print_table,
    render,
    say,
    to_json,
)
from sentinel_db.cli.search_cmd import search
from sentinel_db.cli.vectors_cmd import print_vector_stats, similar

if TYPE_CHECKING:
    from sentinel_db.repositories.stats import DatabaseStats, LastImport

app = typer.Typer(help="Look at, search, export and clear the data.", no_args_is_help=True)
app.command(cls=PlainCommand)(similar)
app.command(cls=QuestionCommand)(search)

TableArg = Annotated[
    str,
    typer.Argument(
        help="pci_dss_controls, aws_config_rules_guidance, pci_aws_config_rule_mappings "
        "(or controls, rules, mappings), or all.",
        metavar="TABLE",
        show_default=False,
    ),
]


class Kind(StrEnum):
    """What `show` shows."""

    control = "control"
    rule = "rule"


@app.command("list", cls=PlainCommand)
def list_rows(
    ctx: typer.Context,
    table: TableArg,
    limit: Annotated[int, typer.Option(min=0, help="Rows per table.")] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip first.")] = 0,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.table
    ),
) -> None:
    """Rows of a table in key order: a readable table, or whole records as JSON/CSV."""
    from sentinel_db.errors import UsageError
    from sentinel_db.records.tables import resolve_tables
    from sentinel_db.repositories.reads import list_records

    tables = resolve_tables(table)
    if fmt is OutputFormat.csv and len(tables) > 1:
        raise UsageError("CSV output needs one table; name it instead of 'all'")
    with get_state(ctx).session() as session:
        pages = {
            name: [r.to_dict() for r in list_records(session, name, limit=limit, offset=offset)]
            for name in tables
        }
    if fmt is OutputFormat.json and len(tables) > 1:
        print_json(pages)
        return
    for name, rows in pages.items():
        render(rows, fmt, title=name if fmt is OutputFormat.table else None, drop=_DROP)


# Columns a narrow table leaves out first: the surrogate id, then the JSON (data show has both).
_DROP = ("id", "metadata", "config_rules")


@app.command(cls=PlainCommand)
def show(
    ctx: typer.Context,
    kind: Annotated[Kind, typer.Argument(help="control or rule.", metavar="KIND")],
    key: Annotated[
        str, typer.Argument(help="Control id (e.g. 8.2.4) or rule name.", metavar="KEY")
    ],
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.text
    ),
) -> None:
    """A control with its mapped rules and their guidance, or a rule with the controls it maps to."""
    from sentinel_db.records.tables import CONTROLS, RULES
    from sentinel_db.repositories import reads

    with get_state(ctx).session() as session, hinting_keys(session, kind.value, key):
        detail: dict[str, Any]
        if kind is Kind.control:
            control = reads.record_by_key(session, CONTROLS, key).to_dict()
            rules = reads.rules_for_controls(session, [key], with_guidance=True)[key]
            detail = {"control": control, "rules": [r.model_dump(mode="json") for r in rules]}
        else:
            rule = reads.record_by_key(session, RULES, key).to_dict()
            detail = {"rule": rule, "controls": reads.controls_for_rule(session, key)}
    if fmt is ReportFormat.json:
        print_json(detail)
        return
    _print_detail(detail)


def _print_detail(detail: dict[str, Any]) -> None:
    record = detail.get("control") or detail["rule"]
    for name, value in record.items():
        if isinstance(value, dict) and value:
            # One wrapped line per entry, indented under the name: long strings wrap at spaces
            # within the width (`--format json` gives the JSON itself).
            out.print(f"{name}:", markup=False, highlight=False)
            pairs = [(k, v if isinstance(v, str) else to_json(v)) for k, v in value.items()]
            lines = block_lines(pairs, width=out.width - 2)
            out.print("\n".join("  " + line for line in lines), highlight=False)
        else:
            text = "" if value is None else value if isinstance(value, str) else to_json(value)
            out.print("\n".join(block_lines([(name, text)], width=out.width)), highlight=False)
    if "rules" in detail:
        rows = [
            {
                "rule": item["rule"],
                "guidance": item["guidance"]["chunk"] if item["guidance"] else "(no guidance)",
            }
            for item in detail["rules"]
        ]
        print_table(rows, ["rule", "guidance"], title=f"{len(rows)} mapped rule(s)", width=None)
    else:
        controls = ", ".join(detail["controls"]) or "(none)"
        out.print(
            "\n".join(block_lines([("mapped to controls", controls)], width=out.width)),
            highlight=False,
        )


@app.command(cls=PlainCommand)
def clear(
    ctx: typer.Context,
    table: TableArg,
    yes: Annotated[
        bool, typer.Option("--yes", "--force", "-y", help="Do not ask for confirmation.")
    ] = False,
) -> None:
    """Delete every row of a table (or all reference tables) in one transaction."""
    from sentinel_db.records.tables import resolve_tables
    from sentinel_db.repositories.stats import count_rows
    from sentinel_db.repositories.tables import clear_tables

    tables = resolve_tables(table)
    state = get_state(ctx)
    db = state.database()
    with db.unit_of_work(read_only=True) as session:
        counts = count_rows(session, tables)
    for name, rows in counts.items():
        info(f"{name}: {rows} row(s)")
    if not yes and not _confirmed(f"Delete all rows of {', '.join(tables)}?"):
        info("declined: nothing changed")
        raise typer.Exit(1)
    with db.unit_of_work() as session:
        deleted = clear_tables(session, tables)
    if not state.quiet:
        for name, rows in deleted.items():
            say(f"deleted {rows:,} row(s) from {name}")


def _confirmed(question: str) -> bool:
    """The person's yes; no input at all (a closed stdin) is a no."""
    from sentinel_db.cli.render import confirm

    return confirm(question)


@app.command()
def seed(ctx: typer.Context) -> None:
    """Load the small bundled sample dataset through the normal import path (idempotent)."""
    from sentinel_db.importers.seed import seed_sample_data

    state = get_state(ctx)
    report = seed_sample_data(state.database())
    if not state.quiet:
        for file in report.files:
            say(
                f"{file.table}: {file.inserted} inserted, {file.updated} updated,"
                f" {file.unchanged} unchanged"
            )


def _stats_text(result: DatabaseStats) -> None:
    rows = [
        {
            "table": t.table,
            "rows": t.rows,
            "table size": _size(t.table_bytes),
            "index size": _size(t.index_bytes),
            "last import": _last_import_text(t.last_import),
        }
        for t in result.tables
    ]
    print_table(rows, list(rows[0]), title="tables", width=None, stack=["last import"])
    c = result.coverage
    out.print(
        f"controls with at least one rule: {c.controls_with_rules}/{c.controls_total}"
        f" ({c.control_ratio:.0%})\n"
        f"rules referenced by mappings: {c.rules_referenced} (guidance rows: {c.rules_total})\n"
        f"rules referenced without guidance: {len(c.rules_missing_guidance)}\n"
        f"mappings whose control is missing: {len(c.mappings_without_control)}",
        highlight=False,
    )


def _last_import_text(last: LastImport | None) -> str:
    if last is None:
        return "never"
    text = f"{last.status} {last.started_at:%Y-%m-%d %H:%M}"
    if last.rows_per_second is not None and last.duration_seconds is not None:
        text += f", {last.duration_seconds:.1f} s, {last.rows_per_second:,.0f} rows/s"
    if last.peak_memory_bytes is not None:
        text += f", peak {_size(last.peak_memory_bytes)}"
    return text


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@app.command("stats")
def stats(
    ctx: typer.Context,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = (
        ReportFormat.text
    ),
) -> None:
    """Row counts, table and index sizes, last import, and mapping coverage."""
    from sentinel_db.importers.reaper import reap_dead
    from sentinel_db.repositories.stats import database_stats

    state = get_state(ctx)
    if fmt is ReportFormat.json:
        state.database()  # the figures include the connection pool's, so open it
    if state.settings().database_read_url is None:
        # One connection does both: a second one would cost more than the figures take.
        with state.session(read_only=False) as session:
            reap_dead(session)  # an import whose process died must not show as still running
            result = database_stats(session)
    else:
        with state.session(read_only=False) as session:
            reap_dead(session)
        with state.session() as session:
            result = database_stats(session)
    if fmt is ReportFormat.json:
        data = result.model_dump(mode="json")
        data["coverage"]["control_ratio"] = round(result.coverage.control_ratio, 4)
        data["metrics"] = state.database().metrics().summary()
        print_json(data)
        return
    _stats_text(result)
    print_vector_stats(result.vectors)


@app.command(cls=PlainCommand)
def export(
    ctx: typer.Context,
    table: TableArg,
    out_dir: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Folder to write the files to.")
    ],
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format.")] = FileFormat.csv,
) -> None:
    """Write tables as files in the import format (export then import reproduces the rows)."""
    from sentinel_db.importers.export import ExportFormat, export_tables
    from sentinel_db.records.tables import resolve_tables

    state = get_state(ctx)
    tables = resolve_tables(table)
    results = export_tables(
        state.database(),
        tables,
        out_dir,
        fmt=ExportFormat(fmt.value),
        batch_size=state.settings().db_batch_size,
    )
    if not state.quiet:
        for result in results:
            say(f"{result.table}: {result.rows:,} row(s) -> {result.path}")
