"""The ``sentinel-db`` command line (Typer). Nothing in the library imports this package.

Start-up time matters (``sentinel-db --help`` answers in well under 0.3 s), so modules here
follow one rule: at the top they import only the standard library, ``typer`` and other
``sentinel_db.cli`` modules. Everything else (sentinel_db's library modules, SQLAlchemy,
psycopg, Alembic, pydantic, ``rich.table``) is imported inside the command function that needs
it, and names used only in annotations go under ``if TYPE_CHECKING:``. Types in a command's
signature are evaluated by Typer, so they must be cheap: the enums live in ``cli/render.py``.
``tests/test_cli_startup.py`` checks the rule; ``bench/cli_startup.py`` measures the result.
"""

from typing import Any

from sentinel_db.cli.main import main

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole command tree, built on request
        from sentinel_db.cli.main import build_app

        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
