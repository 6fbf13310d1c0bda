"""`import` and `import-data` commands (thin wrappers over sentinel_db.importers)."""

from __future__ import annotations

import typer

from sentinel_db.errors import UsageError

app = typer.Typer(help="Validate and bulk-import CSV files.", no_args_is_help=True)


def import_everyday(ctx: typer.Context) -> None:
    """Import every recognised CSV under SOURCE."""
    raise UsageError("import is not available yet")
