"""`data` commands: list, show, search, clear, seed, stats, export."""

from __future__ import annotations

import typer

from sentinel_db.errors import UsageError

app = typer.Typer(help="Look at, search, export and clear the data.", no_args_is_help=True)


def stats(ctx: typer.Context) -> None:
    """Row counts, sizes and coverage."""
    raise UsageError("stats is not available yet")
