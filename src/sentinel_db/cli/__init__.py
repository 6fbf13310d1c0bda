"""The ``sentinel-db`` command line (Typer). Nothing in the library imports this package."""

from sentinel_db.cli.main import app, main

__all__ = ["app", "main"]
