"""Printing: messages to stderr, results to stdout as a table, JSON or CSV.

Tables are for people and fit the terminal: text wraps at spaces, and when the columns do not fit
side by side even so, each row is printed as a block of ``key: value`` lines instead. Keys,
names, dates and numbers are never cut (JSON and CSV carry every value whole).
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
from rich.markup import escape

from sentinel_db.cli.layout import (
    block_lines,
    cut_at_word,
    fit_widths,
    longest_word,
    styled,
    visible,
    wrap,
)

# No emoji codes: a text holding ":warning:" is shown as written, not as a picture.
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)


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
    drop: Sequence[str] = (),
) -> None:
    """Print rows: a table for people, or whole records as JSON/CSV (streamed).

    ``width`` caps a text column of the table (cut after a whole word; numbers never are);
    rows that still do not fit the terminal side by side are printed as ``key: value`` blocks.
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
    print_table(materialised, names, title=title, width=width, drop=drop)


def print_table(
    rows: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    *,
    title: str | None = None,
    width: int | None = 60,
    marks: tuple[str, str] | None = None,
    stack: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> None:
    """A table if it fits the terminal, else one ``key: value`` block per row.

    Text wraps at spaces and no column is narrower than its longest word, so keys, names,
    dates and numbers stay whole. Columns in ``stack`` leave the table first when it does not
    fit: they are printed under it, one line per row, named by the row's first value. Columns
    in ``drop`` are left out, one by one, before rows turn into blocks (a notice on stderr
    names them).
    """
    cells = [[_cell(row.get(name)) for name in names] for row in rows]
    numeric = [any(_is_number(row.get(name)) for row in rows) for name in names]
    if width is not None:
        cells = [
            [c if numeric[i] else cut_at_word(c, width) for i, c in enumerate(r)] for r in cells
        ]
    kept = list(range(len(names)))
    widths = _widths(cells, names, kept, marks)
    if widths is None and stack:
        kept = [i for i, name in enumerate(names) if name not in stack]
        widths = _widths(cells, names, kept, marks)
    dropped: list[str] = []
    for name in drop:
        if widths is not None or name not in names:
            break
        dropped.append(name)
        kept = [i for i in kept if names[i] != name]
        widths = _widths(cells, names, kept, marks)
    if widths is None:
        _print_blocks(cells, names, title=title, marks=marks)
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False)
    for i, column_width in zip(kept, widths, strict=True):
        table.add_column(
            escape(names[i]),
            no_wrap=True,
            width=column_width,
            justify="right" if numeric[i] else "left",
        )
    for row_cells in cells:
        table.add_row(
            *(
                "\n".join(styled(line, marks) for line in wrap(row_cells[i], w, marks))
                for i, w in zip(kept, widths, strict=True)
            )
        )
    out.print(table)
    if dropped:
        info(f"not shown at this width: {', '.join(dropped)} (--format json shows every column)")
    for i in (i for i in range(len(names)) if i not in kept and names[i] not in dropped):
        pairs = [(row_cells[0], row_cells[i]) for row_cells in cells]
        out.print(names[i], highlight=False, markup=False)
        out.print("\n".join(block_lines(pairs, width=out.width - 2, marks=marks)), highlight=False)


def _widths(
    cells: list[list[str]],
    names: Sequence[str],
    kept: Sequence[int],
    marks: tuple[str, str] | None,
) -> list[int] | None:
    natural = [max([len(names[i])] + [visible(r[i], marks) for r in cells]) for i in kept]
    floors = [max([len(names[i])] + [longest_word(r[i], marks) for r in cells]) for i in kept]
    return fit_widths(natural, floors, available=out.width, overhead=table_width([0] * len(kept)))


def _print_blocks(
    cells: list[list[str]],
    names: Sequence[str],
    *,
    title: str | None,
    marks: tuple[str, str] | None = None,
) -> None:
    """Vertical layout for narrow terminals: each value whole, wrapped at spaces."""
    lines: list[str] = [escape(title)] if title else []
    for index, row_cells in enumerate(cells):
        lines.append(f"-- {index + 1} --")
        lines.extend(
            block_lines(list(zip(names, row_cells, strict=True)), width=out.width, marks=marks)
        )
    out.print("\n".join(lines), highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print one JSON document to stdout."""
    sys.stdout.write(to_json(data, indent=2) + "\n")


def say(message: str, *, style: str | None = None) -> None:
    """A line of a result on stdout; on a terminal, wrapped at spaces with a hanging indent
    (a file or a pipe gets it whole, one line per item)."""
    if not out.is_terminal:
        out.print(message, markup=False, highlight=False, style=style, soft_wrap=True)
        return
    lines = wrap(message, max(20, out.width - 2))
    text = "\n".join([lines[0], *("  " + line for line in lines[1:])])
    out.print(text, markup=False, highlight=False, style=style, soft_wrap=True)


def info(message: str, *, quiet: bool = False) -> None:
    """A progress or status line on stderr (suppressed by --quiet)."""
    if not quiet:
        err.print(message, highlight=False, markup=False)


def warn(message: str) -> None:
    """A warning on stderr (shown even with --quiet)."""
    err.print(f"warning: {message}", highlight=False, markup=False, style="yellow")


def confirm(question: str) -> bool:
    """Ask on stderr and read the answer; anything but y/yes, or no input at all, is a no.

    Written here rather than with ``typer.confirm``, whose prompt leaves a space on stdout, where
    only results belong.
    """
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if not answer.endswith("\n"):
        sys.stderr.write("\n")  # no input: end the prompt's line
    return answer.strip().lower() in {"y", "yes"}
