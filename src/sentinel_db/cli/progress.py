"""Import progress: a bar by bytes while reading, then a spinner naming each server-side phase.

On a terminal each file gets one line: while the file is read and validated the bar follows
the bytes read; once the server works (checks, merge, index maintenance, commit) the bar turns
into a pulse and the line names the phase, with the elapsed time still counting. When a file is
done its rate is rows read over the whole time, server work included. Elsewhere (a pipe, a log)
each phase is one plain line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from sentinel_db.importers import ProgressCallback, ProgressEvent


def _plain(console: Console) -> ProgressCallback:
    def plain(event: ProgressEvent) -> None:
        name = Path(event.path).name
        if event.stage == "start":
            line = f"importing {event.path} -> {event.table}"
        elif event.stage == "phase":
            line = f"{name}: {event.phase} ({event.rows_read:,} rows read)"
        else:
            return
        console.print(line, markup=False, highlight=False)

    return plain


@contextmanager
def import_progress(
    console: Console, *, bar: bool = True, clock: Callable[[], float] | None = None
) -> Iterator[ProgressCallback]:
    """A progress callback drawing on ``console``: bars on a terminal (unless ``bar`` is
    False), plain lines otherwise. ``clock`` replaces the monotonic clock (for tests)."""
    if not (bar and console.is_terminal):
        yield _plain(console)
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    display = Progress(
        SpinnerColumn(finished_text="[green]✓[/green]"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[phase]}"),
        TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,} rows/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        get_time=clock,
    )
    tasks: dict[str, TaskID] = {}

    def draw(event: ProgressEvent) -> None:
        if event.stage == "start":
            tasks[event.path] = display.add_task(
                Path(event.path).name,
                total=event.total_bytes or 1,
                rows=0,
                rate=0,
                phase=event.phase,
            )
            display.refresh()
            return
        task = tasks.get(event.path)
        if task is None:
            return
        elapsed = display.tasks[task].elapsed or 0.0
        rate = int(event.rows_read / elapsed) if elapsed > 0 else 0
        if event.stage == "rows":
            display.update(task, completed=event.bytes_read, rows=event.rows_read, rate=rate)
        elif event.stage == "phase":
            # The server works now: no bytes to count, so the bar pulses (total=None). Reading
            # every byte marked the task finished, which would stop the spinner and the clock.
            display.update(task, total=None, rows=event.rows_read, rate=rate, phase=event.phase)
            display.tasks[task].finished_time = None
            display.refresh()
        else:
            # End to end: the rate counts the server-side phases too.
            display.update(
                task, total=1, completed=1, rows=event.rows_read, rate=rate, phase="done"
            )
            display.stop_task(task)
            display.refresh()

    with display:
        yield draw
