"""Printing: messages to stderr, results to stdout as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
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
    if isinstance(value, datetime):
        text = value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    if width is not None and len(text) > width:
        return text[: width - 1] + "…"
    return text


def _fit(natural: list[int], available: int, *, short: int = 12) -> list[int]:
    """Column widths within ``available``: short columns keep theirs, long ones share the rest."""
    if sum(natural) <= available:
        return natural
    fixed = sum(w for w in natural if w <= short)
    long_columns = [w for w in natural if w > short] or [1]
    share = max(short, (available - fixed) // len(long_columns))
    return [w if w <= short else min(w, share) for w in natural]


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
    cells = [[_cell(row.get(name), width) for name in names] for row in materialised]
    natural = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(names)]
    for name, column_width in zip(
        names, _fit(natural, out.width - 3 * len(names) - 1), strict=True
    ):
        # One line per row: long values are cut here (JSON and CSV carry them whole).
        table.add_column(name, no_wrap=True, overflow="ellipsis", width=column_width)
    for row_cells in cells:
        table.add_row(*row_cells)
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
