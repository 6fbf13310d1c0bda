"""Printing: messages to stderr, results to stdout as a table, JSON or CSV.

Tables are for people and fit the terminal: when the columns do not fit side by side, each
row is printed as a block of ``key: value`` lines instead. Numbers are never cut; long text is
cut to the width with ``…`` (JSON and CSV carry every value whole).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from rich.console import Console

out = Console(soft_wrap=True)
MIN_TEXT_WIDTH = 20  # a text column is never narrowed below this; rows become blocks instead
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


class FileFormat(StrEnum):
    """File formats of `data export`."""

    csv = "csv"
    json = "json"


def json_default(value: Any) -> Any:
    """JSON for values the json module does not know: ISO-8601 timestamps, else text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_json(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON text (UTF-8 kept, timestamps in ISO 8601)."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=json_default)


def _csv_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return to_json(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    text = value if isinstance(value, str) else to_json(value)
    return " ".join(text.split())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def table_width(widths: Sequence[int]) -> int:
    """Columns a rich table with these column widths takes (borders and padding included)."""
    return sum(widths) + 3 * len(widths) + 1


def render(
    rows: Iterable[Mapping[str, Any]],
    fmt: OutputFormat,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    width: int | None = 60,
) -> None:
    """Print rows: a table for people, or whole records as JSON/CSV (streamed).

    ``width`` caps a text column of the table (numbers are never cut); rows that still do not
    fit the terminal side by side are printed as ``key: value`` blocks.
    """
    if fmt is OutputFormat.json:
        sys.stdout.write("[")
        for i, row in enumerate(rows):
            sys.stdout.write(("," if i else "") + "\n" + to_json(row))
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
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        return
    materialised = list(rows)
    names = list(columns or (materialised[0].keys() if materialised else []))
    print_table(materialised, names, title=title, width=width)


def print_table(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    *,
    title: str | None = None,
    width: int | None = 60,
) -> None:
    """A table if it fits the terminal, else one ``key: value`` block per row."""
    cells = [[_cell(row.get(name)) for name in names] for row in rows]
    numeric = [any(_is_number(row.get(name)) for row in rows) for name in names]
    capped = [
        max(
            [len(name)]
            + [len(r[i]) if numeric[i] or width is None else min(len(r[i]), width) for r in cells]
        )
        for i, name in enumerate(names)
    ]
    capped = _shrink(capped, numeric, names, available=out.width)
    if table_width(capped) > out.width:
        _print_blocks(cells, names, title=title)
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for name, column_width, is_number in zip(names, capped, numeric, strict=True):
        table.add_column(
            name,
            no_wrap=True,
            overflow="ellipsis",
            width=column_width,
            justify="right" if is_number else "left",
        )
    for row_cells in cells:
        table.add_row(*(_cut(c, w) for c, w in zip(row_cells, capped, strict=True)))
    out.print(table)


def _shrink(
    widths: list[int], numeric: list[bool], names: Sequence[str], *, available: int
) -> list[int]:
    """Narrow the widest text columns, one character at a time, to no less than
    ``MIN_TEXT_WIDTH`` (or their name) until the table fits; numbers keep their width."""
    widths = list(widths)
    floors = [
        w if num else min(w, max(MIN_TEXT_WIDTH, len(n)))
        for w, num, n in zip(widths, numeric, names, strict=True)
    ]
    excess = table_width(widths) - available
    while excess > 0:
        room = [(w - f, i) for i, (w, f) in enumerate(zip(widths, floors, strict=True)) if w > f]
        if not room:
            break
        widths[max(room)[1]] -= 1
        excess -= 1
    return widths


def _print_blocks(cells: list[list[str]], names: Sequence[str], *, title: str | None) -> None:
    """Vertical layout for narrow terminals: each value on its own line, cut to the width."""
    key_width = max((len(n) for n in names), default=0)
    room = max(20, out.width - key_width - 2)
    lines: list[str] = [title] if title else []
    for index, row_cells in enumerate(cells):
        lines.append(f"-- {index + 1} --")
        lines.extend(
            f"{name.rjust(key_width)}: {_cut(value, room)}"
            for name, value in zip(names, row_cells, strict=True)
        )
    out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print one JSON document to stdout."""
    sys.stdout.write(to_json(data, indent=2) + "\n")


def info(message: str, *, quiet: bool = False) -> None:
    """A progress or status line on stderr (suppressed by --quiet)."""
    if not quiet:
        err.print(message, highlight=False, markup=False)


def warn(message: str) -> None:
    """A warning on stderr (shown even with --quiet)."""
    err.print(f"warning: {message}", highlight=False, markup=False, style="yellow")
