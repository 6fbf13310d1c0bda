"""Printing: messages to stderr, results to stdout as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    """Output formats of listing commands."""

    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    """Output formats of report commands."""

    text = "text"
    json = "json"


def _cell(value: Any, width: int | None) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def render(
    rows: Iterable[Mapping[str, Any]],
    fmt: OutputFormat,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    width: int | None = 60,
) -> None:
    """Print rows: a table for people (long text cut), or whole records as JSON/CSV (streamed)."""
    if fmt is OutputFormat.json:
        sys.stdout.write("[")
        for i, row in enumerate(rows):
            sys.stdout.write(
                ("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False, default=str)
            )
        sys.stdout.write("\n]\n")
        return
    if fmt is OutputFormat.csv:
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(
                    sys.stdout, fieldnames=list(columns or row.keys()), lineterminator="\r\n"
                )
                writer.writeheader()
            writer.writerow(
                {
                    k: v
                    if isinstance(v, str) or v is None
                    else json.dumps(v, ensure_ascii=False, default=str)
                    for k, v in row.items()
                }
            )
        return
    table = Table(title=title, show_lines=False)
    materialised = list(rows)
    names = list(columns or (materialised[0].keys() if materialised else []))
    for name in names:
        table.add_column(name)
    for row in materialised:
        table.add_row(*(_cell(row.get(name), width) for name in names))
    out.print(table)


def print_json(data: Any) -> None:
    """Print one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def info(message: str, *, quiet: bool = False) -> None:
    """A progress or status line on stderr (suppressed by --quiet)."""
    if not quiet:
        err.print(message, highlight=False, markup=False)


def warn(message: str) -> None:
    """A warning on stderr (shown even with --quiet)."""
    err.print(f"warning: {message}", highlight=False, markup=False, style="yellow")
