"""Import progress: a bar by bytes while reading, then a spinner naming each server-side phase.

On a terminal the file being imported has one live line, narrow enough for 80 columns: while
the file is read and validated a bar follows the bytes read, with the rows and the read rate;
once the server works (checks, merge, index maintenance, commit) PostgreSQL reports no fraction,
so the line shows no bar and no rate: the phase, the rows read, a turning spinner and the
elapsed time. When a file is done, one line gives its rows and its end-to-end rate (rows over
the whole time, server work included). Elsewhere (a pipe, a log) each phase is one plain line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.progress import BarColumn, ProgressColumn, Task
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console

    from sentinel_db.importers import ProgressCallback, ProgressEvent


class _FractionBar(ProgressColumn):
    """A bar only while the fraction is known (bytes read); nothing during server phases."""

    def __init__(self, *, bar_width: int) -> None:
        super().__init__()
        self.bar = BarColumn(bar_width=bar_width)

    def render(self, task: Task) -> RenderableType:
        """The bar, or nothing when no honest fraction exists."""
        if task.total is None or not task.fields.get("known", False):
            return Text("")
        return self.bar.render(task)


def _plain(console: Console) -> ProgressCallback:
    def plain(event: ProgressEvent) -> None:
        name = Path(event.path).name
        if event.stage == "start":
            line = f"importing {event.path} -> {event.table}"
        elif event.stage == "phase":
            line = f"{name}: {event.phase} ({_rows_read(event.rows_read)})"
        else:
            return
        console.print(line, markup=False, highlight=False)

    return plain


@contextmanager
def import_progress(
    console: Console, *, bar: bool = True, clock: Callable[[], float] | None = None
) -> Iterator[ProgressCallback]:
    """A progress callback drawing on ``console``: a live line on a terminal (unless ``bar`` is
    False), plain lines otherwise. ``clock`` replaces the monotonic clock (for tests)."""
    if not (bar and console.is_terminal):
        yield _plain(console)
        return
    import time

    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    now = clock or time.monotonic
    display = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        _FractionBar(bar_width=12),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        get_time=now,
        auto_refresh=clock is None,  # with a test's clock, frames are drawn only on events
    )
    tasks: dict[str, tuple[TaskID, float]] = {}

    def draw(event: ProgressEvent) -> None:
        name = Path(event.path).name
        if event.stage == "start":
            console.print(f"importing {name} -> {event.table}", markup=False, highlight=False)
            task = display.add_task(
                event.phase, total=event.total_bytes or 1, detail="", known=True
            )
            tasks[event.path] = (task, now())
            display.refresh()
            return
        if event.path not in tasks:
            return
        task, started = tasks[event.path]
        elapsed = now() - started
        if event.stage == "rows":
            # Reading is the one phase whose pace the client sees: its rate is the read rate.
            rate = int(event.rows_read / elapsed) if elapsed > 0 else 0
            detail = f"{event.rows_read:,} rows, {rate:,} rows/s"
            display.update(task, completed=event.bytes_read, detail=detail)
            if clock is not None:
                display.refresh()
        elif event.stage == "phase":
            # The server works now and reports no fraction: no bar and no rate, which would
            # only repeat the read rate; the spinner turns and the clock runs.
            display.update(
                task,
                description=event.phase,
                total=None,
                known=False,
                detail=_rows_read(event.rows_read),
            )
            # Reading every byte marked the task finished, which would stop spinner and clock.
            display.tasks[task].finished_time = None
            display.refresh()
        else:
            del tasks[event.path]
            display.remove_task(task)
            rate = int(event.rows_read / elapsed) if elapsed > 0 else event.rows_read
            console.print(
                f"✓ {name} done: {event.rows_read:,} rows, {rate:,} rows/s"
                f" end to end, {_clock(elapsed)}",
                markup=False,
                highlight=False,
            )

    with display:
        yield draw


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _rows_read(count: int) -> str:
    return f"{count:,} row read" if count == 1 else f"{count:,} rows read"
